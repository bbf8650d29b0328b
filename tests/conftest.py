import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_run_session(tmp_path_factory):
    """A 4-step smoke run (tracking off), trained once per test session; (run folder, its embedding cache)."""
    from mats_lib.config import load_config
    from mats_lib.training import train

    folder = tmp_path_factory.mktemp("evalrun")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATS_CACHE_DIR", str(folder / "cache"))
        cfg = load_config("smoke", {"train.output_dir": str(folder / "runs"), "tracking.enabled": False,
                                    "train.max_steps": 4})
        run_dir = train(cfg, progress=False).run_dir
    return run_dir, folder / "cache"


@pytest.fixture
def tiny_run(tiny_run_session, monkeypatch):
    """The session's tiny run, with its embedding cache (never the user's build/cache) for this test."""
    run_dir, cache = tiny_run_session
    monkeypatch.setenv("MATS_CACHE_DIR", str(cache))
    return run_dir


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """Embedding caches in a throwaway folder, never the user's build/cache."""
    monkeypatch.setenv("MATS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def write_wave(tmp_path):
    """Write a wave file: write_wave(name, samples [n] or [n, ch], rate, subtype=None) -> path."""

    def _write(name, samples, rate, subtype=None):
        path = tmp_path / name
        sf.write(str(path), np.asarray(samples), rate, subtype=subtype)
        return path

    return _write


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave * (c + 1) / channels for c in range(channels)], axis=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch):
    """A real `mlflow server` on 127.0.0.1 and a free port over a temporary store; MLFLOW_TRACKING_URI points at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--default-artifact-root", str(tmp_path / "art")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(360):  # the server takes a few seconds to come up (longer on a busy machine)
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("mlflow server exited at start")
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health within 180 s")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def upstream_reference():
    """build/reference: the upstream msclap and laion_clap model code (`make reference`), for the parity tests only.
    `make test` sets MATS_REQUIRE_REFERENCE=1, so that there a missing copy fails instead of skipping."""
    from mats_lib.paths import project_path

    root = project_path("build/reference")
    if not (root / "msclap").is_dir() or not (root / "laion_clap").is_dir():
        message = f"{root} lacks the upstream CLAP code: run `make reference`"
        if os.environ.get("MATS_REQUIRE_REFERENCE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return root
