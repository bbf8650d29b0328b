"""Tracking to a real MLflow server (what MLFLOW_TRACKING_URI=http://... does), started by the test."""
from mats_lib.config import load_config
from mats_lib.tracking import run_status
from mats_lib.training import train


def test_training_logs_to_a_tracking_server(tmp_path, tmp_cache, mlflow_server):
    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), "train.max_steps": 2})
    result = train(cfg, progress=False)
    status, metrics = run_status(result.run_id, mlflow_server)
    assert status == "FINISHED" and "loss" in metrics
    assert (tmp_path / "art").exists()  # the adapter went to the server's artifact store


def test_two_training_processes_log_to_one_server(tmp_path, tmp_cache, mlflow_server):
    """Two hosts' worth of training (two processes at once) against one tracking server: both runs complete."""
    import os
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    from mats_lib.paths import REPO_ROOT

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": mlflow_server}
    processes = [subprocess.Popen([sys.executable, "-m", "mats_lib.train", "--config", "smoke", "--no-progress",
                                   "--name", f"host{i}", "--set", f"train.output_dir={tmp_path / 'runs'}",
                                   "--set", "train.max_steps=2", "--set", f"seed={i}"],
                                  cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(2)]
    for p in processes:
        assert p.wait(timeout=900) == 0, p.stderr.read()[-3000:]
    client = MlflowClient(mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("mats-smoke").experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert {"host0", "host1"} <= set(by_name)
    for i in range(2):
        run = by_name[f"host{i}"]
        assert run.info.status == "FINISHED" and "loss" in run.data.metrics
        assert run.data.params["seed"] == str(i)
        assert len(client.get_metric_history(run.info.run_id, "loss")) == 2  # every logged step arrived
