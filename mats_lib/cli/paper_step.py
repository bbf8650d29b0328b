"""Command line of ``mats_lib.study.paper_step``: time per optimizer step of the paper's training setting on this
machine, for the pre-flight check's estimate to stand beside: MATS with a frozen LLM of the paper's architecture
(Vicuna-7B v1.5's shapes, random weights: a step's time depends on shapes, not values), LoRA on its attention
projections, the transformer mapper with its 40-token prefix, the GPU's half precision, the preset's batch and
accumulation, on prompts and answers of a training corpus.

    python -m mats_lib.study.paper_step --corpus build/data/audiotia_mini/sources.json --steps 5
    python -m mats_lib.study.paper_step --corpus build/data/audiotia_mini/sources.json --steps 0   # estimates only

mats_lib.study.paper_step's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..study.paper_step import ARCHITECTURES, measure
from ..config import parse_overrides


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="vicuna-7b")
    parser.add_argument("--corpus", required=True, help="sources.json of a training corpus (AudioTIA layout)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="paper preset overrides")
    parser.add_argument("--out", type=Path, help="write the result here (JSON)")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    result = measure(args.architecture, args.corpus, steps=args.steps, warmup=args.warmup, overrides=overrides)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
