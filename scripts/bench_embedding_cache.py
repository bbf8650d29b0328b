"""Speed: training with cached CLAP text embeddings vs embedding the captions every step (the authors' way).

    python scripts/bench_embedding_cache.py [--config mini] [--steps 25] [--warmup 5]

Runs the same training twice for a few steps (tracking off, nothing saved that matters) and prints the
training throughput of each and their ratio. Steps before --warmup are not timed (a fresh process is
slow at first).
"""
from __future__ import annotations

import argparse
import tempfile
import time

from mats_lib.config import load_config
from mats_lib.training import train


def throughput(cfg, warmup: int) -> float:
    stamps = {}
    train(cfg, on_step=lambda step, loss: stamps.__setitem__(step, time.perf_counter()), name="bench", progress=False)
    steps = sorted(stamps)
    timed = steps[-1] - warmup
    samples = timed * cfg.train.batch_size * cfg.train.grad_accum
    return samples / (stamps[steps[-1]] - stamps[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("cached", "on_the_fly"):
            cfg = load_config(args.config, {"data.embeddings": mode, "train.max_steps": args.steps,
                                            "train.save_every": 10**9, "tracking.enabled": False,
                                            "train.output_dir": tmp})
            results[mode] = throughput(cfg, args.warmup)
            print(f"{mode:11s} {results[mode]:7.2f} samples/s")
    print(f"cached / on-the-fly throughput ratio: {results['cached'] / results['on_the_fly']:.2f}x "
          f"({args.config} preset, {args.steps - args.warmup} timed steps)")


if __name__ == "__main__":
    main()
