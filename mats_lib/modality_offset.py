"""An encoder's mean text-minus-audio offset, for the ``mean_shift`` transfer (Liang et al. 2022, "Mind the Gap").

The offset is measured on paired clips of the audio-train part (never the eval part): each labelled clip
(``cls_*.jsonl`` under ``data.audio_records``) with a one-event caption of its label, the pairs the noise
calibration also reads. Adding it to an audio embedding moves the audio centroid onto the text centroid. How much
of each pair's difference that fixes is ``explained``: 1 - E||d_i - mean d||^2 / E||d_i||^2 over the paired
differences d_i = text_i - audio_i (1: every pair differs by the same vector; 0: the offset is no help).
"""
from __future__ import annotations

import hashlib

import numpy as np

from .config import Config
from .noise import calibration_pairs


def offset_statistics(audio: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, dict]:
    """(mean text-minus-audio offset [d], what it is: pairs, norm, share of the paired difference explained)."""
    audio = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    diff = (text - audio).astype(np.float64)
    offset = diff.mean(0)
    total = float(np.mean(np.sum(diff**2, 1)))
    residual = float(np.mean(np.sum((diff - offset) ** 2, 1)))
    info = {"pairs": len(diff), "norm": float(np.linalg.norm(offset)),
            "explained": 1.0 - residual / total if total > 0 else 0.0}
    return offset.astype(np.float32), info


def modality_offset(cfg: Config, encoder) -> tuple[np.ndarray, dict]:
    """The offset of ``cfg``'s encoder on its audio-train pairs, with its statistics and a hash of its bytes."""
    offset, info = offset_statistics(*calibration_pairs(cfg, encoder, "the mean_shift transfer"))
    info["sha256"] = hashlib.sha256(np.ascontiguousarray(offset).tobytes()).hexdigest()
    return offset, info
