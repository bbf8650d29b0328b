"""Command line: evaluate a trained run under modality transfers on the MiniAudio eval part.

    python -m mats_lib.evaluate build/runs/mini-text-tagclap-seed0 --transfers raw,noise,memory,santa
    python -m mats_lib.evaluate RUN --tasks caption_scenes --max-items 20 --lam 0.5   # a quick look

Outputs go to reports/eval/<run name>/<transfer>/<task>/{predictions.jsonl,metrics.json} and to MLflow
(a parent run with nested runs). Re-running skips finished parts and resumes interrupted ones.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from .evaluation import EvalSettings, evaluate_run
from .paths import REPO_ROOT
from .santa import SantaSettings
from .tracking import EvalTracker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--transfers", default="raw,noise,memory,santa")
    parser.add_argument("--tasks", default=",".join(EvalSettings().tasks))
    parser.add_argument("--out", default=None, help="default reports/eval/<run name>")
    parser.add_argument("--max-items", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lam", type=float, default=None, help="Santa's lambda (default 0.3)")
    parser.add_argument("--no-tracking", action="store_true")
    args = parser.parse_args(argv)
    santa = SantaSettings() if args.lam is None else replace(SantaSettings(), lam=args.lam)
    settings = EvalSettings(transfers=tuple(args.transfers.split(",")), tasks=tuple(args.tasks.split(",")),
                            seed=args.seed, batch_size=args.batch_size, max_items=args.max_items,
                            num_beams=args.beams, santa=santa)
    name = Path(args.run).name
    out = Path(args.out) if args.out else REPO_ROOT / "reports" / "eval" / name
    if args.no_tracking:
        results = evaluate_run(args.run, out, settings)
    else:
        with EvalTracker("mats-eval", f"eval-{name}", {"run": args.run, **{k: str(v) for k, v in vars(args).items()}}) as tracker:
            results = evaluate_run(args.run, out, settings, tracker=tracker)
    for transfer, tasks in results.items():
        for task, m in tasks.items():
            ci = f" [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]" if "ci95" in m else ""
            print(f"{transfer:7s} {task:16s} {m['metric']:8s} {m['value']:.3f}{ci}  n={m['n']}")


if __name__ == "__main__":
    main()
