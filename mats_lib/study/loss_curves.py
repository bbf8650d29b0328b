"""The training curves of a set of runs, read from each run folder (``losses.jsonl``, one line per optimizer step;
after a resume the last line of a step wins; the settings from ``final/key.json``): one row per encoder x
condition x seed x step, and the figure that overlays the conditions of one encoder with a band over its seeds.
"""
from __future__ import annotations

import json
from pathlib import Path

# the run kinds of the study's matrix (``runs.run_kind``), as the transfer table names their conditions
CONDITION_OF = {"text": "text-only (noise)", "nonoise": "text-only, no noise", "audio": "MATS-Audio (audio-supervised)"}


def _kind(settings: dict) -> str:
    if settings["data"]["modality"] == "audio":
        return "audio"
    return "nonoise" if settings["data"]["noise_variance"] in (0, 0.0) else "text"


def loss_rows(run_folders: list[Path]) -> list[dict]:
    """One row per optimizer step of every finished run given."""
    from ..runs import read_key

    rows = []
    for folder in run_folders:
        settings = read_key(Path(folder) / "final")["settings"]
        steps: dict[int, float] = {}
        for line in (Path(folder) / "losses.jsonl").read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                steps[record["step"]] = record["loss"]
        condition = CONDITION_OF[_kind(settings)]
        rows += [{"encoder": settings["encoder"]["name"], "condition": condition, "seed": settings["seed"],
                  "step": step, "loss": steps[step]} for step in sorted(steps)]
    return rows


def final_losses(rows: list[dict], last: int = 25) -> dict[str, dict[str, list[float]]]:
    """{encoder: {condition: [mean of each seed's last ``last`` losses]}}: where each curve ends."""
    curves: dict[tuple, list[tuple[int, float]]] = {}
    for r in rows:
        curves.setdefault((r["encoder"], r["condition"], r["seed"]), []).append((r["step"], r["loss"]))
    out: dict[str, dict[str, list[float]]] = {}
    for (encoder, condition, _), points in sorted(curves.items()):
        tail = [loss for _, loss in sorted(points)[-last:]]
        out.setdefault(encoder, {}).setdefault(condition, []).append(sum(tail) / len(tail))
    return out


def plot_loss_overlays(rows: list[dict]):
    """One panel per encoder: each condition's mean loss over its seeds, with the band from the lowest to the
    highest seed at each step (seaborn's percentile interval at 100: with three seeds, their range)."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    frame = pd.DataFrame(rows)
    encoders = sorted(frame["encoder"].unique())
    fig, axes = plt.subplots(1, len(encoders), figsize=(5.2 * len(encoders), 3.8), sharey=True, squeeze=False)
    order = [c for c in CONDITION_OF.values() if c in set(frame["condition"])]
    for ax, encoder in zip(axes[0], encoders):
        sns.lineplot(data=frame[frame["encoder"] == encoder], x="step", y="loss", hue="condition", hue_order=order,
                     estimator="mean", errorbar=("pi", 100), ax=ax, legend=ax is axes[0][0])
        seeds = frame[frame["encoder"] == encoder].groupby("condition")["seed"].nunique()
        low, high = int(seeds.min()), int(seeds.max())
        ax.set_title(f"{encoder} ({low} seed{'s' * (low > 1)} each)" if low == high else
                     f"{encoder} ({low}-{high} seeds per condition)")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (answer tokens)")
    legend = axes[0][0].get_legend()
    if legend is not None:  # below the panels, off the curves
        handles, labels = axes[0][0].get_legend_handles_labels()
        legend.remove()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def answer_statistics(files: list[Path]) -> dict:
    """Records, distinct answers and mean answer words of JSONL training files (their ``output`` field): what a
    loss falls on."""
    answers = [json.loads(line)["output"] for path in files for line in Path(path).read_text().splitlines()
               if line.strip()]
    return {"records": len(answers), "distinct_answers": len(set(answers)),
            "mean_answer_words": round(sum(len(a.split()) for a in answers) / max(len(answers), 1), 2)}
