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

from .config import Config, ConfigError, resolve_path
from .data.labels import noun_phrase
from .data.records import load_eval_records


def offset_pairs(cfg: Config, encoder) -> tuple[np.ndarray, np.ndarray]:
    """Unit (audio [n, d], text [n, d]) of the audio-train part's labelled clips and their label's caption.
    training.resolve_noise_variance reads the same pairs with its own loop: training.py is part of every run's key,
    so it moves onto this function with the next change that retrains anyway."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    folder = resolve_path(cfg.data.audio_records, "data.audio_records")
    pairs = []
    for path in sorted(folder.glob("cls_*.jsonl")):
        pairs += load_eval_records(path, root)[0]
    if not pairs:
        raise ConfigError(f"the mean_shift transfer needs labelled audio-train clips (cls_*.jsonl) in {folder}")
    audio = encoder.embed_audio([root / r["audio_id"] for r in pairs])
    text = encoder.embed_text([f"The sound of {noun_phrase(r['output'])}." for r in pairs])
    return audio, text


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
    offset, info = offset_statistics(*offset_pairs(cfg, encoder))
    info["sha256"] = hashlib.sha256(np.ascontiguousarray(offset).tobytes()).hexdigest()
    return offset, info
