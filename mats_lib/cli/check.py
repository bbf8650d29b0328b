"""Command line of ``mats_lib.check``: pre-flight check: everything a run needs, verified before any GPU time is
spent.

    python -m mats_lib.check --preset paper --set encoder.checkpoint=/ckpt/CLAP_weights_2023.pth         --set llm.path=/models/vicuna-7b-v1.5 --set data.corpus=/data/AudioTIA-5M/sources.json
    make check PRESET=paper
    python -m mats_lib.check --preset paper --set ... --benchmark clotho=/data/clotho --benchmark esc50=/data/ESC-50

mats_lib.check's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import sys

from ..check import check
from ..config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--benchmark", action="append", default=[], metavar="NAME=PATH",
                        help="a benchmark root to check, e.g. clotho=/data/clotho")
    args = parser.parse_args(argv)
    benchmarks = {}
    for item in args.benchmark:
        name, sep, root = item.partition("=")
        if not sep or not name or not root:
            parser.error(f"--benchmark {item!r}: give NAME=PATH")
        benchmarks[name] = root
    from ..config import parse_overrides

    try:
        cfg = load_config(args.preset, parse_overrides(args.set))
    except ConfigError as error:
        print(f"config: {error}", file=sys.stderr)
        return 2
    report, _ = check(cfg, benchmarks)
    for note in report.notes:
        print(f"  ok  {note}")
    for problem in report.problems:
        print(f"  MISSING/WRONG  {problem}")
    if report.problems:
        print(f"{len(report.problems)} problem(s): fix them before spending GPU time", file=sys.stderr)
        return 1
    print(f"preset {cfg.preset}: everything it needs is in place")
    return 0


if __name__ == "__main__":
    main()
