"""Command line of ``mats_lib.analysis.geometry``: the geometry of the modality gap, per encoder and per transfer
(docs/modality_geometry.md).

    python -m mats_lib.analysis.geometry --preset mini --encoders tagclap miniclap

mats_lib.analysis.geometry's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse

from ..analysis.geometry import encoder_geometry, plot, to_markdown
from ..config import load_config


def main() -> None:
    from ..paths import reports_dir
    from ..provenance import provenance, write_atomic, write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--encoders", nargs="+", default=["tagclap", "miniclap"])
    parser.add_argument("--pairs", type=int, default=350)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    command = (f"python -m mats_lib.analysis.geometry --preset {args.preset} --encoders {' '.join(args.encoders)}"
               + (f" --pairs {args.pairs}" if args.pairs != 350 else "") + (f" --seed {args.seed}" if args.seed else ""))
    tables = {e: encoder_geometry(load_config(args.preset, {"encoder.name": e, "seed": args.seed}), args.pairs,
                                  seed=args.seed) for e in args.encoders}
    out = reports_dir(args.preset)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    plot(tables).savefig(out / "figures" / "modality_geometry.png", dpi=120)
    markdown = to_markdown(tables, command)
    write_atomic(out / "modality_geometry.md", markdown)
    write_json_atomic(out / "modality_geometry.json", {"command": command, "provenance": provenance(),
                                                       "encoders": tables})
    print(markdown)


if __name__ == "__main__":
    main()
