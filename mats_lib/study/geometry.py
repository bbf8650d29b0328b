"""The modality gap's geometry measured per encoder and transfer (docs/modality_geometry.md), and its figure.
``analysis.geometry`` holds the statistics and the Markdown.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.geometry import TOP_DIRECTIONS, _interval, _unit, explained_by, spread, top_energy
from ..config import Config
from ..encoders import encoder_from_config
from ..evaluation import corpus_captions, memory_bank, resolved_santa
from ..modality_offset import modality_offset, offset_statistics
from ..noise import noisy_unit
from ..santa import TRANSFERS, apply_transfer
from ..seed import derive_seed
from .modality_gap import embed_pairs, training_noise_variance


def moved_audio(cfg: Config, encoder, audio: np.ndarray, noise_variance: float, offset: np.ndarray,
                seed: int = 0) -> dict[str, np.ndarray]:
    """{transfer: unit moved audio [n, d]} for the eval pairs' audio, each transfer seeded by its name."""
    santa = resolved_santa(cfg, noise_variance)
    bank = memory_bank(encoder, corpus_captions(cfg), santa, cfg.eval.subset_seed)
    out = {}
    for name in TRANSFERS:
        generator = torch.Generator().manual_seed(derive_seed(seed, f"geometry/{name}"))
        moved = apply_transfer(name, torch.from_numpy(audio), bank=bank, settings=santa, generator=generator,
                               offset=torch.from_numpy(offset))
        out[name] = F.normalize(moved.float(), dim=-1).numpy()
    return out


def encoder_geometry(cfg: Config, n_pairs: int = 350, resamples: int = 200, seed: int = 0) -> dict:
    encoder = encoder_from_config(cfg.encoder, progress=False)
    variance = training_noise_variance(cfg, encoder)
    offset, offset_info = modality_offset(cfg, encoder)
    pairs = embed_pairs(cfg, encoder, n_pairs, seed)
    text, audio = _unit(pairs["text"]), _unit(pairs["audio"])
    noisy = noisy_unit(torch.from_numpy(text), variance,
                       torch.Generator().manual_seed(derive_seed(seed, "geometry/ball"))).numpy()
    radius = np.linalg.norm(noisy - text, axis=1)  # [n] the ball's radius around each text
    edge = float(np.percentile(radius, 95))
    diff = text - audio
    beyond_offset = diff - diff.mean(0)  # the gap with its mean offset removed: what no shift can fix
    directions = np.linalg.svd(beyond_offset, full_matrices=False)[2][:TOP_DIRECTIONS]
    rng = np.random.default_rng(derive_seed(seed, "geometry/resample"))
    draws = [rng.integers(0, len(text), len(text)) for _ in range(resamples)]
    out = {"encoder": cfg.encoder.name, "dim": int(text.shape[1]), "pairs": len(text), "noise_variance": variance,
           "offset": {**offset_info, "explained_on_eval_pairs": explained_by(diff, offset),
                      "eval_pairs_own_offset": offset_statistics(audio, text)[1]},
           "spread": {"text": spread(text), "audio": spread(audio), "noisy_text": spread(noisy)},
           "noise_ball": {"radius": _interval(radius, draws), "edge95": edge,
                          "top_energy": {"audio_minus_text": top_energy(beyond_offset, directions),
                                         "noise": top_energy(noisy - text, directions),
                                         "isotropic": TOP_DIRECTIONS / text.shape[1]}},
           "transfers": {}, "distances": {"noise_ball": radius.tolist()}}  # per pair: the figure's data
    for name, moved in moved_audio(cfg, encoder, audio, variance, offset, seed).items():
        distance = np.linalg.norm(moved - text, axis=1)
        nearest = np.argmax(moved @ text.T, axis=1)  # several clips may share a text ("The sound of dog.")
        own = np.array([pairs["texts"][j] == pairs["texts"][i] for i, j in enumerate(nearest)])
        out["transfers"][name] = {
            "paired_cosine": _interval(np.sum(moved * text, 1), draws),
            "distance_in_radii": _interval(distance / radius.mean(), draws),
            "inside_ball": _interval((distance <= edge).astype(float), draws),
            "retrieval_r1": _interval(own.astype(float), draws)}
        out["distances"][name] = distance.tolist()
    return out


def plot(tables: dict[str, dict]):
    """Per encoder: the distances to the own text of the noise ball and of each transfer (histograms)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4), squeeze=False)
    for ax, (name, t) in zip(axes[0], tables.items()):
        d = t["distances"]
        bins = np.linspace(0, max(max(v) for v in d.values()) * 1.02, 40)
        ax.hist(d["noise_ball"], bins=bins, alpha=0.5, color="grey", label="training input (text + noise)")
        for transfer, color in zip(("plain", "mean_shift", "memory", "santa"), ("C3", "C2", "C0", "C1")):
            ax.hist(d[transfer], bins=bins, histtype="step", linewidth=1.8, color=color, label=f"audio, {transfer}")
        ax.set(title=f"{name} ({t['dim']}-d, noise var {t['noise_variance']:.4f})",
               xlabel="distance to the paired text embedding", ylabel="pairs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
