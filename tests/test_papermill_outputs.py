"""papermill as the README documents it: a notebook run outside `make` writes beside its output notebook and
nothing anywhere under reports/, and its executed copy reads well (few outputs, no progress-bar floods)."""
import os
import subprocess

import nbformat

from mats_lib.paths import REPO_ROOT


def snapshot(folder):
    """{path: (size, mtime)} of every file under ``folder``, tracked or ignored."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_the_documented_papermill_command_writes_beside_its_output_and_never_under_reports(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MATS_REPORTS_DIR"}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store too stays out of the checkout
    before = snapshot(REPO_ROOT / "reports")
    # the README's command, as written
    command = (f'.venv/bin/papermill notebooks/ablation_lambda.ipynb {out}/out.ipynb -k mats --inject-output-path '
               f'-p preset smoke -p lambdas "0,1"')
    subprocess.run(command, shell=True, cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    assert snapshot(REPO_ROOT / "reports") == before
    assert (out / "ablation_lambda-tagclap.json").exists() and (out / "ablation_lambda-tagclap.md").exists()
    assert (out / "figures" / "ablation_lambda-tagclap.png").exists()
    assert (out / "items-ablation_lambda-tagclap.csv.gz").exists()
    executed = nbformat.read(out / "out.ipynb", as_version=4)
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        assert len(cell.outputs) <= 50 and len(stderr) <= 20_000, cell.source[:80]
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert str(REPO_ROOT) not in text, "an absolute path of this machine in an output"
