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
