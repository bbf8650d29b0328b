"""Speed: training with cached CLAP text embeddings vs embedding the captions every step (the authors' way),
and text-only vs audio-supervised training cost.

    python -m mats_lib.cli.bench_embedding_cache [--config mini] [--steps 25] [--warmup 5] [--n-embed 64]

Trains a few steps of each (tracking off, nothing kept) and prints throughputs and ratios; the same
measurement as the efficiency notebook (`mats_lib.study.efficiency`). Steps before --warmup are not timed.
"""
from __future__ import annotations

import argparse
import json

from ..study.efficiency import training_costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--n-embed", type=int, default=64)
    args = parser.parse_args()
    costs = training_costs(args.config, args.steps, args.warmup, args.n_embed)
    print(json.dumps(costs, indent=1))


if __name__ == "__main__":
    main()
