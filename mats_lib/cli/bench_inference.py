"""Speed of inference: batched vs one-by-one generation, Santa's share of the cost, k-means vs exact retrieval.

    python -m mats_lib.cli.bench_inference build/runs/mini-text-tagclap-seed0 [--n 32] [--batch 16]

Prints throughputs and ratios (no assertion: speed goals are read, not tested); the same measurement as the
efficiency notebook (`mats_lib.study.efficiency.inference_costs`).
"""
from __future__ import annotations

import argparse
import json

from ..study.efficiency import inference_costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(inference_costs(args.run, args.n, args.batch), indent=1))


if __name__ == "__main__":
    main()
