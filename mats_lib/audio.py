"""Audio loading: any common file -> validated mono float32 at the encoder's rate, of a fixed length.

Channels are averaged (msclap instead flattens the channels end to end, which turns a stereo clip into
a twice-as-long mono one). Length is fixed deterministically by default: short clips are tiled, long
clips centre-cropped; a seeded random crop is available for augmentation. Odd sample rates, many channels
and silence are valid audio and are converted; what cannot be audio (missing, unreadable, empty, NaN/inf)
raises :class:`AudioError` naming the file and the problem.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

Crop = Literal["center", "start", "random"]
Pad = Literal["tile", "zeros"]


class AudioError(ValueError):
    """A file that cannot be turned into audio. The message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` to (samples [n, channels] float32, sample rate), validating the content."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as sf_error:  # libsndfile reads wav/flac/ogg/mp3; audioread covers the rest
        samples, rate = _read_with_librosa(path, sf_error)
    if samples.size == 0:
        raise AudioError(path, "empty audio (zero samples)")
    if not np.isfinite(samples).all():
        bad = int((~np.isfinite(samples)).sum())
        raise AudioError(path, f"contains {bad} NaN or infinite sample(s)")
    return samples, int(rate)


def _read_with_librosa(path: Path, first_error: Exception) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples, rate = librosa.load(str(path), sr=None, mono=False)
    except Exception as error:
        raise AudioError(path, f"unreadable or corrupt audio ({first_error}; {type(error).__name__})") from error
    samples = np.atleast_2d(samples).T.astype(np.float32)  # librosa gives [channels, n]
    return samples, int(rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[n, channels] -> [n], averaging the channels."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    if orig_rate == target_rate:
        return wave.astype(np.float32, copy=False)
    import librosa

    return librosa.resample(wave, orig_sr=orig_rate, target_sr=target_rate, res_type="soxr_hq").astype(np.float32)


def fix_length(
    wave: np.ndarray,
    n_samples: int,
    crop: Crop = "center",
    pad: Pad = "tile",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Bring a 1-D wave to exactly ``n_samples``: tile (or zero-pad) short waves, crop long ones."""
    n = wave.shape[0]
    if n < n_samples:
        if pad == "tile":
            reps = -(-n_samples // n)
            return np.tile(wave, reps)[:n_samples]
        return np.pad(wave, (0, n_samples - n))
    if n == n_samples:
        return wave
    if crop == "center":
        start = (n - n_samples) // 2
    elif crop == "start":
        start = 0
    elif crop == "random":
        if rng is None:
            raise ValueError("crop='random' needs a seeded numpy Generator (rng=...)")
        start = int(rng.integers(0, n - n_samples + 1))
    else:
        raise ValueError(f"unknown crop mode {crop!r}; use 'center', 'start' or 'random'")
    return wave[start : start + n_samples]


def load_audio(
    path: str | Path,
    sample_rate: int,
    clip_seconds: float | None = None,
    *,
    min_seconds: float = 0.0,
    crop: Crop = "center",
    pad: Pad = "tile",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Load ``path`` as mono float32 at ``sample_rate``.

    ``clip_seconds`` fixes the length exactly (None keeps the whole clip); ``min_seconds`` only tiles
    clips shorter than that (for encoders with a minimum window, such as YAMNet's 0.96 s patch).
    """
    samples, rate = read_audio(path)
    wave = resample(to_mono(samples), rate, sample_rate)
    if clip_seconds is not None:
        wave = fix_length(wave, int(round(clip_seconds * sample_rate)), crop=crop, pad=pad, rng=rng)
    elif wave.shape[0] < int(round(min_seconds * sample_rate)):
        wave = fix_length(wave, int(round(min_seconds * sample_rate)), pad=pad)
    return np.ascontiguousarray(wave, dtype=np.float32)
