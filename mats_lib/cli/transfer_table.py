"""The transfer table: raw / noise / memory / Santa (+ added_noise, mean_shift) and MATS-Audio, per encoder, over training seeds.

    python -m mats_lib.cli.transfer_table --config mini --encoders tagclap miniclap --seeds 0 1 2   # `make transfer-table`

Needs the run matrix (`make runs`); a missing run is an error naming its make target, unless
--allow-missing (its conditions are then reported as "not run"). Evaluation parts are keyed and cached under
build/eval/. Writes reports/<preset>/transfer_table.{json,md} (the README links it).
"""
from __future__ import annotations

import argparse

from ..analysis.transfer_table import CONDITIONS, to_markdown
from ..study.reports import DEFAULT_CONDITIONS, transfer_table_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini", help="preset")
    parser.add_argument("--encoders", nargs="+", default=["tagclap", "miniclap"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS),
                        choices=list(CONDITIONS))
    parser.add_argument("--allow-missing", action="store_true", help="report conditions without runs as 'not run'")
    parser.add_argument("--no-tracking", action="store_true")
    args = parser.parse_args()
    command = (f"python -m mats_lib.cli.transfer_table --config {args.config} --encoders {' '.join(args.encoders)} "
               f"--seeds {' '.join(map(str, args.seeds))} --conditions {' '.join(args.conditions)}"
               + (" --allow-missing" if args.allow_missing else ""))
    table = transfer_table_report(args.config, args.encoders, args.seeds, args.conditions,
                                  allow_missing=args.allow_missing, tracking=not args.no_tracking,
                                  command=command)
    markdown = to_markdown(table)
    print(markdown)


if __name__ == "__main__":
    main()
