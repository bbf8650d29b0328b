"""Gaussian noise on unit embeddings, and its calibration to an encoder's modality gap (``resolve_noise_variance``:
``data.noise_variance=auto`` measured on the audio-train pairs).

Axes: b batch, d embedding dim.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config, ConfigError, resolve_path
from .data.sources import audio_records
from .prompts import label_caption


def noisy_unit(x: torch.Tensor, variance: float, generator: torch.Generator | None) -> torch.Tensor:
    """normalise(normalise(x) + N(0, variance I)): [b, d] -> [b, d] (the paper's text-only training)."""
    x = F.normalize(x.float(), dim=-1)
    if variance <= 0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype) * variance**0.5
    return F.normalize(x + noise.to(x.device), dim=-1)


def calibrate_noise_variance(audio: np.ndarray, text: np.ndarray) -> tuple[float, float]:
    """(variance, mean paired cosine c) such that E cos(noisy, clean) ~= c for unit vectors in d dims.

    Adding N(0, s^2 I) to a unit vector gives cos ~= 1/sqrt(1 + d s^2), so matching the mean cosine c
    between paired audio and text embeddings gives s^2 = (1/c^2 - 1)/d: the training noise then moves
    a text embedding about as far as the modality gap does (the paper's calibration idea, after
    Deshmukh et al. 2024; its 0.015 was set this way for 1024-d MS-CLAP).
    """
    a = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    c = float(np.mean(np.sum(a * t, axis=1)))
    if c <= 0:
        raise ValueError(f"paired audio/text embeddings have mean cosine {c:.3f} <= 0: cannot calibrate noise")
    return (1.0 / c**2 - 1.0) / audio.shape[1], c


def calibration_pairs(cfg: Config, encoder, needed_by: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit (audio [n, d], text [n, d]) of the audio-train part's labelled clips (never the eval part) and a
    one-event caption of their label: what the noise calibration and the mean_shift offset measure the gap on.
    Mixtures would measure the encoder's trouble with overlapping sounds as well as the modality gap, and give a
    noise that drowns the text."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    pairs = [r for records in audio_records(cfg, "cls_*.jsonl").values() for r in records]
    if not pairs:
        raise ConfigError(f"{needed_by} needs labelled audio-train clips (cls_*.jsonl) in {cfg.data.audio_records}")
    audio = encoder.embed_audio([root / r["audio_id"] for r in pairs])
    text = encoder.embed_text([label_caption(r["output"]) for r in pairs])
    return audio, text


def resolve_noise_variance(cfg: Config, encoder) -> tuple[float, dict]:
    """``data.noise_variance``, with ``auto`` calibrated on the audio-train pairs."""
    value = cfg.data.noise_variance
    if value != "auto":
        return float(value), {}
    audio, text = calibration_pairs(cfg, encoder, "data.noise_variance=auto")
    variance, cosine = calibrate_noise_variance(audio, text)
    return variance, {"noise.calibration_pairs": len(audio), "noise.mean_paired_cosine": cosine}
