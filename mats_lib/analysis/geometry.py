"""The geometry of the modality gap, per encoder and per transfer (docs/modality_geometry.md).

Where audio lands against what the decoder was trained on, in numbers a t-SNE cannot give:

- **the mean offset**: the mean text-minus-audio difference of the audio-train pairs (``modality_offset``), its
  norm and the share of the paired differences it explains, on those pairs and on held-out eval pairs;
- **the spread** of each modality: the RMS distance of its unit embeddings to their centroid;
- **the noise ball**: a training input is the unit text plus N(0, var I), renormalised (var calibrated to the
  encoder, or the preset's). Its distance to the clean text is the ball's radius; the paired audio's distance
  to its text, in those radii, says how far outside the training inputs audio lands. The calibration matches the
  *size* of the two displacements, not their direction: the share of each displacement's energy in the top
  principal directions of the paired audio-text differences (the gap taken beyond its mean offset) says how
  concentrated the real gap is against isotropic noise;
- **per transfer** (plain, test_noise, memory, santa, mean_shift) on the eval pairs: the moved clip's cosine to
  its own text, its distance in noise radii, the share of clips inside the ball (within its 95th percentile
  radius), and paired retrieval R@1 (the moved clip's nearest text among the pairs is its own text: the clip's
  identity survives the move). Intervals are percentile bootstraps over pairs.

    python -m mats_lib.analysis.geometry --preset mini --encoders tagclap miniclap
"""
from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config
from ..encoders import encoder_from_config
from ..evaluation import corpus_captions, memory_bank, resolved_santa
from ..modality_offset import modality_offset, offset_statistics
from ..noise import noisy_unit
from ..santa import TRANSFERS, apply_transfer
from ..seed import derive_seed
from .modality_gap import embed_pairs, training_noise_variance

TOP_DIRECTIONS = 10


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def spread(x: np.ndarray) -> float:
    """RMS distance of unit embeddings to their centroid."""
    x = _unit(x)
    return float(np.sqrt(np.mean(np.sum((x - x.mean(0)) ** 2, 1))))


def explained_by(diff: np.ndarray, offset: np.ndarray) -> float:
    """1 - E||d_i - offset||^2 / E||d_i||^2: the share of the paired differences a fixed offset removes."""
    return 1.0 - float(np.mean(np.sum((diff - offset) ** 2, 1)) / np.mean(np.sum(diff**2, 1)))


def top_energy(displacements: np.ndarray, directions: np.ndarray) -> float:
    """The share of the displacements' energy in the span of ``directions`` (orthonormal rows)."""
    return float(np.sum((displacements @ directions.T) ** 2) / np.sum(displacements**2))


def _interval(values: np.ndarray, draws: list[np.ndarray]) -> dict:
    samples = [float(values[i].mean()) for i in draws]
    return {"value": float(values.mean()), "ci95": [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))]}


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


def to_markdown(tables: dict[str, dict], command: str) -> str:
    f = lambda d: f"{d['value']:.3f} [{d['ci95'][0]:.3f}, {d['ci95'][1]:.3f}]"  # noqa: E731
    lines = ["# The geometry of the modality gap", "", f"Command: `{command}`. Eval pairs drawn with a fixed seed "
             "(labelled clips with \"The sound of <label>.\", scenes with their caption); the offset measured on the "
             "audio-train pairs; [95% percentile bootstrap over pairs].", "",
             "| encoder | dim | noise var | offset norm | explained (train pairs) | explained (eval pairs) | "
             "spread text / audio | ball radius | top-10 energy: gap / noise / isotropic |", "|---|---|---|---|---|---|---|---|---|"]
    for name, t in tables.items():
        e = t["noise_ball"]["top_energy"]
        lines.append(f"| {name} | {t['dim']} | {t['noise_variance']:.4f} | {t['offset']['norm']:.3f} | "
                     f"{t['offset']['explained']:.3f} | {t['offset']['explained_on_eval_pairs']:.3f} | "
                     f"{t['spread']['text']:.3f} / {t['spread']['audio']:.3f} | {f(t['noise_ball']['radius'])} | "
                     f"{e['audio_minus_text']:.3f} / {e['noise']:.3f} / {e['isotropic']:.3f} |")
    lines += ["", "Per transfer (the moved clip against its own text):", "",
              "| encoder | transfer | cosine to own text | distance / ball radius | inside the ball (95th pct) | "
              "retrieval R@1 |", "|---|---|---|---|---|---|"]
    for name, t in tables.items():
        for transfer, r in t["transfers"].items():
            lines.append(f"| {name} | {transfer} | {f(r['paired_cosine'])} | {f(r['distance_in_radii'])} | "
                         f"{f(r['inside_ball'])} | {f(r['retrieval_r1'])} |")
    return "\n".join(lines) + "\n"


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


if __name__ == "__main__":  # the command lives in mats_lib.cli.modality_geometry
    from ..cli.modality_geometry import main

    main()
