"""Tracking to a real MLflow server (what MLFLOW_TRACKING_URI=http://... does), started by the test."""
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mats_lib.config import load_config
from mats_lib.tracking import run_status
from mats_lib.training import train


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--default-artifact-root", str(tmp_path / "art")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # the server takes a few seconds to come up
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("mlflow server exited at start")
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health within 60 s")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_training_logs_to_a_tracking_server(tmp_path, tmp_cache, mlflow_server):
    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), "train.max_steps": 2})
    result = train(cfg, progress=False)
    status, metrics = run_status(result.run_id, mlflow_server)
    assert status == "FINISHED" and "loss" in metrics
    assert (tmp_path / "art").exists()  # the adapter went to the server's artifact store
