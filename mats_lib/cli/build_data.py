"""Command line of ``mats_lib.data.build``: build the mini study's data: MiniAudio (benchmark) and AudioTIA-mini
(text-only training corpus).

    python -m mats_lib.data.build [--seed 0] [--force]      # what `make data` runs

mats_lib.data.build's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..data.build import build_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=None, help="output folder (default build/data)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args()
    build_all(args.seed, args.root, args.force)


if __name__ == "__main__":
    main()
