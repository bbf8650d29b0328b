"""Command line: evaluate a trained run under modality transfers on the MiniAudio eval part.

    python -m mats_lib.evaluate build/runs/mini-text-tagclap-seed0
    python -m mats_lib.evaluate RUN --set eval.tasks=[caption_scenes] --set eval.max_items=20 --set santa.lam=0.5

Settings are the run's own config (its santa / eval / decoding sections) with ``--set`` overrides, validated
like every config. Parts go to reports/eval/<run name>/<transfer>/<task>/<key>/ and to MLflow (experiment
``mats-eval``: a parent run per evaluation, a nested run per part with every setting as a param). A part
whose key matches is reused; any other setting computes a new part beside it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from .config import Config, _merge, _dotted, config_from_dict
from .evaluation import evaluate_run
from .paths import eval_dir
from .tracking import EvalTracker
from .train import parse_overrides
from .training import find_checkpoint

INFERENCE_SECTIONS = ("santa", "eval", "decoding")


def evaluation_config(run: str | Path, overrides: dict | None = None, base: Config | None = None) -> Config:
    """The run's config, with the inference sections of ``base`` (e.g. a preset) when given, then ``overrides``."""
    values = yaml.safe_load((find_checkpoint(run) / "config.yaml").read_text())
    if base is not None:
        values.update({section: base.to_dict()[section] for section in INFERENCE_SECTIONS})
    return config_from_dict(_merge(values, _dotted(overrides or {})))


def print_results(results: dict) -> None:
    for transfer, tasks in results.items():
        for task, parts in tasks.items():
            for m in parts:
                extra = f" (accuracy {m['accuracy']:.3f}, majority {m['majority_rate']:.3f})" if "accuracy" in m else ""
                print(f"{transfer:10s} seed {m['eval_seed']} {task:16s} {m['metric']:17s} {m['value']:.3f}{extra} "
                      f"n={m['n']} key={m['key']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override, e.g. santa.lam=0.5, eval.max_items=20, decoding.num_beams=4")
    parser.add_argument("--out", default=None, help="default reports/eval/<run name>")
    parser.add_argument("--no-tracking", action="store_true")
    args = parser.parse_args(argv)
    cfg = evaluation_config(args.run, parse_overrides(args.set))
    name = Path(args.run).name
    out = Path(args.out) if args.out else eval_dir() / name
    if args.no_tracking or not cfg.tracking.enabled:
        results = evaluate_run(args.run, cfg, out)
    else:
        params = {k: v for k, v in cfg.flat().items() if k.split(".")[0] in INFERENCE_SECTIONS}
        with EvalTracker("mats-eval", f"eval-{name}", {"run": args.run, **params}) as tracker:
            results = evaluate_run(args.run, cfg, out, tracker=tracker)
    print_results(results)


if __name__ == "__main__":
    main()
