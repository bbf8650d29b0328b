"""Command line of ``mats_lib.encoders.miniclap.frontier``: the five MiniCLAP targets for every setting, on the eval
side, over heads seeds (post hoc; never chooses).

    python -m mats_lib.encoders.miniclap.frontier [--seeds 0 1 2] [--out reports/miniclap_gate_frontier.json]

mats_lib.encoders.miniclap.frontier's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..study.miniclap_frontier import GATE, TARGETS, default_summary, frontier, plot
from ..encoders.miniclap.gate import describe as describe_gate
from ..study.miniclap_study import setup
from ..encoders.miniclap.fit import lightness
from ..seed import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="the heads file (its default) and the pairs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="heads training seeds")
    parser.add_argument("--heads", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("reports/miniclap_gate_frontier.json"))
    parser.add_argument("--figure", type=Path, default=Path("reports/figures/miniclap_gate_frontier.png"))
    args = parser.parse_args()
    seed_everything(args.seed)
    start = time.perf_counter()
    study = setup(args.seed, args.heads)
    default = {"steps": study.info["steps"], "w": study.info["default_w"], "sigma": study.info.get("default_sigma")}
    per_seed = [frontier(study, seed) for seed in args.seeds]
    result = {"targets": {**TARGETS, GATE: "pass"}, "heads_sha256": study.info["sha256"],
              "selection_rule": study.info["selection"]["rule"], "heads_seeds": args.seeds,
              **default_summary(per_seed, default), "per_seed": per_seed,
              "note": "post hoc on the eval split: a description of the trade-off, never used to choose defaults"}
    print(f"{'steps':>5s}{'w':>6s}{'sigma':>7s}" + "".join(f"{n[:14]:>16s}" for n in TARGETS) + "  gate (heads seed "
          f"{args.seeds[0]})")
    for r in sorted(per_seed[0]["rows"], key=lightness):
        print(f"{r['steps']:5d}{r['w']:6.2f}{str(r['sigma']):>7s}" + "".join(f"{r[n]:16.3f}" for n in TARGETS)
              + f"  {sum(r['met'].values())}/5  " + describe_gate(r[GATE]))
    for p in per_seed:
        print(f"heads seed {p['seed']}: settings meeting all five targets: {len(p['all_met'])} of {len(p['rows'])}")
    print(f"chosen default (steps {default['steps']}, w {default['w']}, sigma {default['sigma']}), per heads seed:")
    for row in result["default_per_seed"]:
        print(f"  seed {row['seed']}: " + ", ".join(f"{k} {row[k]:.3f}" for k in TARGETS) + f"; gate {row['gate']}")
    print("  every seed meets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["met_every_seed"].items()))
    d = per_seed[0]["gate_distances"]
    print(f"median gate distance: eval clips of seen labels {d['eval_seen_label']:.3f}, of unseen labels "
          f"{d['eval_unseen_label']:.3f}; held-out sources " + ", ".join(f"{s} {v:.3f}" for s, v in d["held_out_source"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.figure)
    print(f"written to {args.out} and {args.figure} ({time.perf_counter() - start:.1f} s; the wall time is printed, not kept)")


if __name__ == "__main__":
    main()
