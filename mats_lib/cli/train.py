"""Command line: train MATS (or MATS-Audio) from a preset.

    python -m mats_lib.train --config mini
    python -m mats_lib.train --config mini --set data.modality=audio        # MATS-Audio
    python -m mats_lib.train --config mini --resume build/runs/mini-text-tagclap-seed0
    torchrun --nproc_per_node 2 -m mats_lib.train --config paper --set llm.path=/models/vicuna-7b-v1.5 ...
"""
from __future__ import annotations

import argparse

from ..config import load_config, parse_overrides
from ..training import train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini", help="preset name (experiments/<name>.yaml) or a YAML path")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=1e-4")
    parser.add_argument("--resume", default=None, help="checkpoint or run folder to resume from")
    parser.add_argument("--name", default=None, help="run name (default <preset>-<modality>-<encoder>-seed<seed>)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, parse_overrides(args.set))
    result = train(cfg, resume_from=args.resume, name=args.name, progress=not args.no_progress)
    if result.losses:
        print(f"steps {result.step}: loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}; "
              f"{result.seconds:.0f} s; peak RSS {result.peak_rss_gb:.2f} GB; run dir {result.run_dir}")


if __name__ == "__main__":
    main()
