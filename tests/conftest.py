import os

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
