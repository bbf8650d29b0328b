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
- **per transfer** (plain, added_noise, memory, santa, mean_shift) on the eval pairs: the moved clip's cosine to
  its own text, its distance in noise radii, the share of clips inside the ball (within its 95th percentile
  radius), and paired retrieval R@1 (the moved clip's nearest text among the pairs is its own text: the clip's
  identity survives the move). Intervals are percentile bootstraps over pairs.

    python -m mats_lib.analysis.geometry --preset mini --encoders tagclap miniclap
"""
from __future__ import annotations


import numpy as np


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


if __name__ == "__main__":  # the command lives in mats_lib.cli.modality_geometry
    from ..cli.modality_geometry import main

    main()
