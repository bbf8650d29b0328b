"""A notebook executed through `python -m mats_lib.cli.run_notebook` (make's notebook steps): its MLflow run carries
the data it read as inputs and, once papermill has written it whole, the executed notebook as an artifact."""
import json
import os
import subprocess
import sys

import nbformat

from mats_lib.config import load_config
from mats_lib.data.sources import data_inputs
from mats_lib.paths import REPO_ROOT


def test_the_executed_notebook_and_its_data_land_in_the_notebooks_run(tmp_path):
    from mlflow.tracking import MlflowClient

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "mats", "language": "python",
                                                                 "display_name": "Python (mats)"},
                                                  "language_info": {"name": "python"}})
    notebook.cells = [
        nbformat.v4.new_code_cell('preset = "smoke"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from mats_lib.config import load_config\nfrom mats_lib.data.sources import data_inputs\n"
            "from mats_lib.tracking import EvalTracker\n"
            "with EvalTracker('mats-smoke', 'a notebook', {'preset': preset}, inputs=data_inputs(load_config(preset))):\n"
            "    pass\nprint('the last cell ran')")]
    source, out = tmp_path / "in.ipynb", tmp_path / "out" / "out.ipynb"
    nbformat.write(notebook, source)
    out.parent.mkdir()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = subprocess.run([sys.executable, "-m", "mats_lib.cli.run_notebook", str(source), str(out), "-k", "mats",
                             "-p", "preset", "smoke"], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store})
    assert result.returncode == 0, result.stderr[-2000:]
    client = MlflowClient(store)
    [run] = client.search_runs([client.get_experiment_by_name("mats-smoke").experiment_id])
    assert run.data.tags["mats.notebook"] == str(out.resolve()) and run.info.run_id[:8] in result.stdout
    [artifact] = client.list_artifacts(run.info.run_id, "notebook")
    (tmp_path / "dl").mkdir()
    logged = json.loads(open(client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path / "dl"))).read())
    assert "the last cell ran" in json.dumps(logged["cells"][-1]["outputs"])  # written whole, after the last cell
    expected = {d["name"]: d for d in data_inputs(load_config("smoke"))}
    found = {i.dataset.name: (i.dataset.digest, [t.value for t in i.tags]) for i in run.inputs.dataset_inputs}
    assert found == {name: (d["digest"], [d["context"]]) for name, d in expected.items()}
    assert set(found) == {"audiotia_mini", "miniaudio"}


def test_a_notebook_without_a_run_of_its_own_gets_one_holding_it(tmp_path):
    from mlflow.tracking import MlflowClient

    from mats_lib.cli.run_notebook import main, parameter

    assert parameter(["a", "b", "-k", "mats", "-p", "preset", "smoke"], "preset", "mini") == "smoke"
    assert parameter(["a", "b"], "preset", "mini") == "mini"
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "mats", "language": "python",
                                                                 "display_name": "Python (mats)"},
                                                  "language_info": {"name": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell('preset = "mini"', metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("print('no run here')")]
    source, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(store)
    client.create_experiment("warm-up")  # the store exists, as after any tracked run
    os.environ["MLFLOW_TRACKING_URI"] = store
    try:
        assert main([str(source), str(out), "-k", "mats", "-p", "preset", "smoke"]) == 0
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    [run] = client.search_runs([client.get_experiment_by_name("mats-smoke").experiment_id])
    assert run.info.run_name == "notebook out" and run.info.status == "FINISHED"
    assert run.data.tags["mats.notebook"] == str(out.resolve())
    assert [a.path for a in client.list_artifacts(run.info.run_id, "notebook")] == ["notebook/out.ipynb"]
