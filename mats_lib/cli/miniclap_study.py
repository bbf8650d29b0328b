"""Command line of ``mats_lib.encoders.miniclap.study``: tagclap and miniclap side by side on MiniAudio (needs `make
data` and `make miniclap`).

    python -m mats_lib.encoders.miniclap.study [--seed 0] [--out reports/miniclap_report.json]

mats_lib.encoders.miniclap.study's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import json
import numpy as np
import platform
import time
from pathlib import Path

from ..encoders.miniclap.encoder import embed_features, embed_unit_text
from ..encoders.miniclap.gate import balanced, loso_gate, within_label_set, zero_shot
from ..prompts import zero_shot_prompt
from ..study.miniclap_study import describe, print_table, setup
from ..encoders.miniclap.fit import W_GRID, evaluate, train_heads
from ..paths import report_path
from ..encoder_metrics import recall_at_k
from ..seed import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heads", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("reports/miniclap_report.json"))
    args = parser.parse_args()
    seed_everything(args.seed)
    start = time.perf_counter()
    study = setup(args.seed, args.heads)
    heads, info, settings, text = study.heads, study.info, study.settings, study.text
    label_sets, all_labels = study.label_sets, study.all_labels
    train_clips, eval_clips, evals, scenes, scene_feats = (study.train_clips, study.eval_clips, study.evals, study.scenes,
                                                            study.scene_feats)
    disjoint = study.disjoint
    steps, w, sigma = info["steps"], info["default_w"], info.get("default_sigma")
    variants = {"tagclap": (0.0, None), "miniclap": (w, sigma)}  # (w, gate sigma)
    report = {"heads": report_path(study.heads_path), "heads_sha256": info["sha256"],
              "defaults": {"steps": steps, "w": w, "sigma": sigma}, "selection_rule": info["selection"]["rule"]}

    # 1. eval split
    seen = {c["label"] for c in train_clips}
    is_seen = np.array([c["label"] in seen for c in eval_clips])
    sources = sorted({c["source"] for c in eval_clips})
    src = np.array([c["source"] for c in eval_clips])
    eval_part = {}
    for name, (wv, sv) in variants.items():
        pooled = zero_shot(heads, text, evals.features, [c["label"] for c in eval_clips], all_labels, wv, sv)
        within = within_label_set(heads, text, eval_clips, evals, label_sets, wv, sv)
        mix_audio = embed_features(heads, scene_feats, wv, sv)
        mix_text = embed_unit_text(heads, text([s["caption"] for s in scenes]), wv)
        eval_part[name] = {
            "pooled": float(pooled.mean()), "pooled_seen_label": float(pooled[is_seen].mean()),
            "pooled_unseen_label": float(pooled[~is_seen].mean()),
            "within_label_set": {s: float(within[src == s].mean()) for s in sources},
            "within_label_set_all": float(within.mean()),
            "mixtures": {f"{d}_R@{k}": recall_at_k(*((mix_audio, mix_text) if d == "a2t" else (mix_text, mix_audio)), k)
                         for d in ("a2t", "t2a") for k in (1, 5)}}
    report["eval_split"] = {"n_clips": len(eval_clips), "n_seen_label": int(is_seen.sum()), "n_labels": len(all_labels),
                            "n_mixtures": len(scenes), **eval_part}

    # 2. class-disjoint folds
    folds, disjoint_heads = [], []
    for k, (fit, test_clips, test, mixtures) in enumerate(disjoint):
        fold_heads = train_heads(fit, text, steps, seed=args.seed * 1000 + k, settings=settings)
        disjoint_heads.append(fold_heads)
        candidates = sorted({c["label"] for c in test_clips})
        row = {"n_clips": len(test_clips), "n_labels": len(candidates)}
        for name, (wv, sv) in variants.items():
            r = evaluate(fold_heads, text, test, candidates, mixtures, wv, sv)
            row[name] = {key: r[key] for key in ("zero_shot", "a2t_R@1", "a2t_R@5", "t2a_R@1", "t2a_R@5")}
        folds.append(row)
    report["class_disjoint"] = {"folds": folds, **{name: {key: float(np.mean([f[name][key] for f in folds]))
                                                          for key in folds[0][name]} for name in variants}}

    # 3. leave one source out
    loso, loso_parts, correct, loso_labels = {}, {}, {name: {} for name in variants}, {}
    for source, (fit, test_clips, test) in study.loso.items():
        fold_heads = train_heads(fit, text, steps, seed=args.seed, settings=settings)
        row = {"n_clips": len(test_clips), "n_labels": len({c["label"] for c in test_clips})}
        loso_labels[source] = [c["label"] for c in test_clips]
        for name, (wv, sv) in variants.items():
            correct[name][source] = within_label_set(fold_heads, text, test_clips, test, label_sets, wv, sv)
            row[name] = balanced(correct[name][source], loso_labels[source])
        loso_parts[source] = (fold_heads, test_clips, test)
        row["delta"] = row["miniclap"] - row["tagclap"]
        loso[source] = row
    report["leave_one_source_out"] = loso
    report["out_of_domain_gate"] = loso_gate(correct["miniclap"], correct["tagclap"], loso_labels, seed=args.seed)

    # 4. post-hoc sensitivity to w at the chosen steps (and gate): a description, never used to choose the defaults
    sensitivity = {}
    for wv in W_GRID:
        sv = sigma if wv < 1.0 else None  # the gate needs tagclap's block
        row = {"eval_pooled": float(zero_shot(heads, text, evals.features, [c["label"] for c in eval_clips], all_labels,
                                              wv, sv).mean()),
               "eval_a2t_R@5": recall_at_k(embed_features(heads, scene_feats, wv, sv),
                                           embed_unit_text(heads, text([s["caption"] for s in scenes]), wv), 5)}
        fold_rows = [evaluate(h, text, test, sorted({c["label"] for c in tc}), m, wv, sv)
                     for h, (_, tc, test, m) in zip(disjoint_heads, disjoint)]
        row["disjoint_zero_shot"] = float(np.mean([f["zero_shot"] for f in fold_rows]))
        row["disjoint_a2t_R@5"] = float(np.mean([f["a2t_R@5"] for f in fold_rows]))
        row["loso_balanced"] = {src_: balanced(within_label_set(h, text, tc, test, label_sets, wv, sv), [c["label"] for c in tc])
                                for src_, (h, tc, test) in loso_parts.items()}
        sensitivity[str(wv)] = row
    report["w_sensitivity_post_hoc"] = sensitivity

    # 5. descriptions (eval clips and their "the sound of <label>" prompts)
    prompts = [zero_shot_prompt(c["label"]) for c in eval_clips]
    report["descriptions"] = {name: describe(heads, text, evals.features, prompts, wv, sv)
                              for name, (wv, sv) in {**variants, "heads_only": (1.0, None)}.items()}
    report["machine"] = platform.processor() or platform.machine()
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out} ({time.perf_counter() - start:.1f} s; the wall time is printed, not kept)")


if __name__ == "__main__":
    main()
