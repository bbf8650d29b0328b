"""The five MiniCLAP targets for every setting, on the eval side, over heads seeds (post hoc; never chooses).

    python -m mats_lib.encoders.miniclap.frontier [--seeds 0 1 2] [--out reports/miniclap_gate_frontier.json]

For every steps x (w, sigma) of the selection grid (``training.STEP_GRID``, ``training.settings_grid``; sigma
None: no gate), with heads trained as the report trains them (all audio-train items; the class-disjoint folds;
leave-one-source-out), it measures the five acceptance quantities of the MiniCLAP issue: eval pooled zero-shot
as a ratio to tagclap (target >= 2), eval mixtures audio->text R@5 (>= 0.2), class-disjoint zero-shot ratio
(>= 1.5) and R@5 (>= 0.08), and the out-of-domain gate of ``gate.py`` on every held-out source's clips (a paired
interval pooled over clips, and no source losing more than 20% of its clips net). Each heads seed trains every
fit again (same pairs, another initialisation and batch order). It reads the eval split, so it describes what
each choice would give; it never chooses (the defaults come from ``training``'s guarded rule on the audio-train
split). Writes the JSON (with the chosen default's targets per seed), a figure
(reports/figures/miniclap_gate_frontier.png) and prints the tables.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from ..encoders.miniclap.encoder import embed_features, embed_unit_text
from ..encoders.miniclap.gate import balanced
from ..encoders.miniclap.gate import describe as describe_gate
from ..encoders.miniclap.gate import loso_gate, within_label_set, zero_shot
from ..encoders.miniclap.fit import STEP_GRID, evaluate, settings_grid, train_heads
from ..encoder_metrics import recall_at_k

STEPS = tuple(s for s in STEP_GRID if s > 0)  # 0 steps is tagclap
TARGETS = {"eval_pooled_ratio": 2.0, "eval_a2t_R@5": 0.2, "disjoint_zero_shot_ratio": 1.5, "disjoint_a2t_R@5": 0.08}
GATE = "loso_gate"  # the fifth target: pass / fail (gate.py)
TARGET_NAMES = [*TARGETS, GATE]


def snapshots(items, text, seed, settings) -> dict:
    """{steps: heads after that many updates} from one training run (the same heads a run of each length gives)."""
    saved = {}

    def keep(step, heads):
        if step in STEPS:
            saved[step] = copy.deepcopy(heads).eval()

    train_heads(items, text, max(STEPS), seed=seed, settings=settings, on_step=keep)
    return saved


def measure(study, full, folds, loso, w, sigma) -> dict:
    """The five quantities for one setting (ratios are filled in by the caller); per held-out source, which of
    its clips are right (``loso_correct``) and their balanced accuracy (``loso``)."""
    text = study.text
    labels = [c["label"] for c in study.eval_clips]
    captions = text([s["caption"] for s in study.scenes])
    fold_rows = [evaluate(h, text, test, sorted({c["label"] for c in tc}), m, w, sigma)
                 for h, (_, tc, test, m) in zip(folds, study.disjoint)]
    correct = {source: within_label_set(loso[source], text, tc, test, study.label_sets, w, sigma)
               for source, (_, tc, test) in study.loso.items()}
    return {"eval_pooled": float(zero_shot(full, text, study.evals.features, labels, study.all_labels, w, sigma).mean()),
            "eval_a2t_R@5": recall_at_k(embed_features(full, study.scene_feats, w, sigma),
                                        embed_unit_text(full, captions, w), 5),
            "disjoint_zero_shot": float(np.mean([r["zero_shot"] for r in fold_rows])),
            "disjoint_a2t_R@5": float(np.mean([r["a2t_R@5"] for r in fold_rows])),
            "loso_correct": correct,
            "loso": {s: balanced(c, [x["label"] for x in study.loso[s][1]]) for s, c in correct.items()}}


def distances(study, full, loso) -> dict:
    """Median distance the gate sees (cosine, mean YAMNet embedding to the nearest training item): eval clips whose
    label the heads saw / did not see, and each source's clips under the heads trained without it."""
    any_steps = STEPS[0]  # the training items, hence the distances, do not depend on the steps

    def median(heads, features):
        return float(np.median(heads.distance(torch.from_numpy(features)).numpy()))

    seen = {c["label"] for c in study.train_clips}
    is_seen = np.array([c["label"] in seen for c in study.eval_clips])
    return {"eval_seen_label": median(full[any_steps], study.evals.features[is_seen]),
            "eval_unseen_label": median(full[any_steps], study.evals.features[~is_seen]),
            "held_out_source": {s: median(loso[s][any_steps], test.features) for s, (_, _, test) in study.loso.items()}}


def frontier(study, seed: int) -> dict:
    """Every setting's five targets for heads trained under ``seed`` (all fits retrained)."""
    settings = study.settings
    full = snapshots(study.train, study.text, seed, settings)
    folds = [snapshots(fit, study.text, seed * 1000 + k, settings) for k, (fit, *_) in enumerate(study.disjoint)]
    loso = {source: snapshots(fit, study.text, seed, settings) for source, (fit, *_) in study.loso.items()}
    labels = {s: [c["label"] for c in tc] for s, (_, tc, _) in study.loso.items()}
    any_steps = STEPS[0]  # w = 0 is tagclap whatever the heads
    tagclap = measure(study, full[any_steps], [f[any_steps] for f in folds], {s: h[any_steps] for s, h in loso.items()},
                      0.0, None)
    rows = []
    for steps in STEPS:
        for w, sigma in settings_grid():
            if w == 0.0:
                continue
            m = measure(study, full[steps], [f[steps] for f in folds], {s: h[steps] for s, h in loso.items()}, w, sigma)
            gate = loso_gate(m.pop("loso_correct"), tagclap["loso_correct"], labels, seed=seed)
            row = {"steps": steps, "w": w, "sigma": sigma,
                   "eval_pooled_ratio": m["eval_pooled"] / tagclap["eval_pooled"], "eval_a2t_R@5": m["eval_a2t_R@5"],
                   "disjoint_zero_shot_ratio": m["disjoint_zero_shot"] / tagclap["disjoint_zero_shot"],
                   "disjoint_a2t_R@5": m["disjoint_a2t_R@5"], GATE: gate, "raw": m}
            row["met"] = {**{k: bool(row[k] >= t - 1e-9) for k, t in TARGETS.items()}, GATE: gate["pass"]}
            rows.append(row)
    tagclap["loso_correct"] = {s: c.tolist() for s, c in tagclap["loso_correct"].items()}
    return {"seed": seed, "tagclap": tagclap, "rows": rows, "gate_distances": distances(study, full, loso),
            "all_met": [{k: r[k] for k in ("steps", "w", "sigma")} for r in rows if all(r["met"].values())]}


def default_summary(per_seed: list[dict], default: dict) -> dict:
    """The chosen default's five targets under each heads seed, and whether every seed meets each."""
    key = (default["steps"], default["w"], default["sigma"])
    rows = []
    for result in per_seed:
        match = [r for r in result["rows"] if (r["steps"], r["w"], r["sigma"]) == key]
        if not match:
            raise ValueError(f"the default {key} is not in the frontier grid")
        r = match[0]
        rows.append({"seed": result["seed"], **{k: r[k] for k in TARGETS}, "gate": describe_gate(r[GATE]),
                     "gate_pooled_delta": r[GATE]["pooled_delta"], "gate_worst_source": r[GATE]["worst_source"],
                     "gate_worst_net_loss": r[GATE]["worst_net_loss"], "met": r["met"]})
    return {"default": default, "default_per_seed": rows,
            "met_every_seed": {k: all(r["met"][k] for r in rows) for k in TARGET_NAMES},
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in TARGETS}}


def target_cells(row: dict) -> list[str]:
    return [f"{row[k]:.3f}" for k in TARGETS] + [describe_gate(row[GATE])]


def plot(result: dict, path: Path) -> None:
    """Class-disjoint gain (x) against the gate's pooled change with its interval (y), heads seed 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["per_seed"][0]["rows"]
    default = result["default"]
    fig, ax = plt.subplots(figsize=(8, 5.2))
    ax.axvline(TARGETS["disjoint_zero_shot_ratio"], color="0.5", lw=0.8, ls="--")
    ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
    sigmas = sorted({r["sigma"] for r in rows}, key=lambda s: float("inf") if s is None else s)
    colours = dict(zip(sigmas, plt.cm.viridis(np.linspace(0, 0.85, len(sigmas))).tolist()))
    colours[None] = [0.85, 0.2, 0.2, 1.0]
    for r in rows:
        d = r[GATE]["pooled_delta"]
        c = colours[r["sigma"]]
        capped = r[GATE]["sources_pass"]
        ax.errorbar(r["disjoint_zero_shot_ratio"], d["value"], yerr=[[d["value"] - d["ci95"][0]], [d["ci95"][1] - d["value"]]],
                    fmt="o", ms=3 + r["steps"] / 40, color=c, mfc=c if capped else "white", elinewidth=0.5, alpha=0.8)
        if (r["steps"], r["w"], r["sigma"]) == (default["steps"], default["w"], default["sigma"]):
            ax.annotate("chosen default", (r["disjoint_zero_shot_ratio"], d["value"]), xytext=(10, 14),
                        textcoords="offset points", arrowprops={"arrowstyle": "->"}, fontsize=8)
    for sigma, c in colours.items():
        ax.errorbar([], [], fmt="o", color=c, label="no gate" if sigma is None else f"gate sigma {sigma}")
    ax.set_xlabel("class-disjoint zero-shot, ratio to tagclap (target >= 1.5)")
    ax.set_ylabel("leave-one-source-out: pooled change in balanced accuracy\nvs tagclap, 95% paired interval")
    ax.set_title("MiniCLAP settings (eval side, post hoc, heads seed 0); hollow: a source loses > 20% of its clips;\n"
                 "marker size grows with steps; the gate needs the interval not wholly below 0", fontsize=9)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":  # the command lives in mats_lib.cli.miniclap_frontier
    from ..cli.miniclap_frontier import main

    main()
