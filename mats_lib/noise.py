"""Gaussian noise on unit embeddings, and its calibration to an encoder's modality gap.

Axes: b batch, d embedding dim.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def noisy_unit(x: torch.Tensor, variance: float, generator: torch.Generator | None) -> torch.Tensor:
    """normalise(normalise(x) + N(0, variance I)): [b, d] -> [b, d] (mats_method.md s.3)."""
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
