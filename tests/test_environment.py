"""requirements.txt and environment.yml hold the same pins; the README's commands are the real ones."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {l.split("==")[0].lower(): l.split("==")[1] for l in lines if "==" in l}


def test_environment_yml_matches_requirements():
    req = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert all("==" in r for r in req), "every requirement is pinned exactly"
    assert pins(req) == pins(pip_section)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make reproduce-all" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_local_uis_bind_to_loopback():
    makefile = (ROOT / "Makefile").read_text()
    block = makefile.split("lab:", 1)[1].split("\n\n", 1)[0]
    assert "--ip 127.0.0.1" in block
    block = makefile.split("mlflow-ui:", 1)[1].split("\n\n", 1)[0]
    assert "mats_lib.cli.mlflow_ui" in block  # which starts `mlflow ui --host 127.0.0.1`
    assert '"--host", "127.0.0.1"' in (ROOT / "mats_lib" / "cli" / "mlflow_ui.py").read_text()


def test_the_paper_clap_backends_need_nothing_outside_the_default_stack():
    """MS-CLAP's front end is torchlibrosa's, pinned in both files; LAION-CLAP is transformers' ClapModel. The old
    `paper` extra (msclap, laion-clap) could not resolve beside these pins, so it is gone and nothing names it."""
    req = (ROOT / "requirements.txt").read_text()
    assert "torchlibrosa==" in req and "torchlibrosa==" in (ROOT / "environment.yml").read_text()
    assert "optional-dependencies" not in (ROOT / "pyproject.toml").read_text()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert ".[paper]" not in doc.read_text(), doc


def test_setup_with_cuda_takes_the_cuda_build_of_the_pinned_torch():
    import subprocess

    plan = subprocess.run(["make", "-n", "-B", "setup", "CUDA=1"], cwd=ROOT, capture_output=True, text=True).stdout
    pinned = pins((ROOT / "requirements.txt").read_text().splitlines())["torch"]
    assert f"pip install -q torch=={pinned} --index-url https://download.pytorch.org/whl/cu" in plan
    assert "torch.cuda.is_available()" in plan
    assert "--index-url" not in subprocess.run(["make", "-n", "-B", "setup"], cwd=ROOT, capture_output=True,
                                               text=True).stdout
