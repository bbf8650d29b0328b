"""The modality gap's views embedded (claim C3, Fig. 3): seeded eval pairs, and their audio moved by each
transfer. ``analysis.modality_gap`` measures the gap in each view.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.modality_gap import paired_text
from ..config import Config, resolve_path
from ..data.records import load_eval_records
from ..evaluation import corpus_captions, memory_bank, resolved_santa
from ..noise import noisy_unit
from ..santa import apply_transfer
from ..seed import derive_seed


def embed_pairs(cfg: Config, encoder, n_pairs: int = 350, seed: int = 0) -> dict:
    """{'audio': [n, d], 'text': [n, d], 'texts': [...], 'audio_ids': [...]} for n seeded eval pairs."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    records = []
    for path in sorted((root / "eval").glob("*.jsonl")):
        if path.stem.startswith("cls_") or path.stem == "caption_scenes":
            records += load_eval_records(path, root)[0]
    pick = np.random.default_rng(derive_seed(seed, "pairs")).permutation(len(records))[: min(n_pairs, len(records))]
    chosen = [records[i] for i in sorted(pick)]
    return {"audio": encoder.embed_audio([root / r["audio_id"] for r in chosen]),
            "text": encoder.embed_text([paired_text(r) for r in chosen]),
            "texts": [paired_text(r) for r in chosen], "audio_ids": [r["audio_id"] for r in chosen]}


def training_noise_variance(cfg: Config, encoder) -> float:
    """The noise a text-only run of this config trains with ('auto' is calibrated as training does)."""
    from ..noise import resolve_noise_variance

    return resolve_noise_variance(cfg, encoder)[0]


def views(cfg: Config, encoder, pairs: dict, noise_variance: float, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{view: (text side, audio side)}, both [n, d] unit vectors (see the module's table)."""
    santa = resolved_santa(cfg, noise_variance)
    bank = memory_bank(encoder, corpus_captions(cfg), santa, cfg.eval.subset_seed)
    audio, text = torch.from_numpy(pairs["audio"]), torch.from_numpy(pairs["text"])
    noisy_text = noisy_unit(text, noise_variance, torch.Generator().manual_seed(derive_seed(seed, "gap/noise"))).numpy()
    out = {"clap": (pairs["text"], pairs["audio"]), "noise": (noisy_text, pairs["audio"])}
    for name in ("memory", "santa"):
        moved = apply_transfer(name, audio, bank=bank, settings=santa,
                               generator=torch.Generator().manual_seed(derive_seed(seed, f"gap/{name}")))
        out[name] = (noisy_text, F.normalize(moved, dim=-1).numpy())
    return out
