"""Command line of ``mats_lib.analysis.geometry``: the geometry of the modality gap, per encoder and per transfer
(docs/modality_geometry.md).

    python -m mats_lib.analysis.geometry --preset mini --encoders tagclap miniclap

mats_lib.analysis.geometry's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse

from ..paths import reports_dir
from ..study.reports import geometry_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--encoders", nargs="+", default=["tagclap", "miniclap"])
    parser.add_argument("--pairs", type=int, default=350)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    command = (f"python -m mats_lib.analysis.geometry --preset {args.preset} --encoders {' '.join(args.encoders)}"
               + (f" --pairs {args.pairs}" if args.pairs != 350 else "") + (f" --seed {args.seed}" if args.seed else ""))
    geometry_report(args.preset, args.encoders, args.pairs, args.seed, command)
    print((reports_dir(args.preset) / "modality_geometry.md").read_text())


if __name__ == "__main__":
    main()
