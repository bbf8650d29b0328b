"""Command line: does a regenerated per-item table agree with the committed one (``make compare-reports``)?

    python -m mats_lib.cli.compare_reports reports/mini /work/clone/reports/mini

Every study item table of the second folder (often a cold subset: one run's conditions) is compared with the first
folder's rows of the same identity. Scores and predictions must agree except for the near-tie flips that another
build history may cause (``analysis.item_table.FLIP_TOLERANCE``, from docs/robustness.md); provenance and timings
are not compared. Exit status 1 when they do not agree.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..analysis import item_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("committed", type=Path, help="the committed report folder, e.g. reports/mini")
    parser.add_argument("regenerated", type=Path, help="the regenerated report folder (its item tables)")
    parser.add_argument("--tolerance", type=float, default=item_table.FLIP_TOLERANCE,
                        help="the largest share of shared items that may differ (near-tie flips)")
    args = parser.parse_args(argv)
    for folder in (args.committed, args.regenerated):
        if not item_table.study_files(folder):
            parser.error(f"{folder}: no item table (items-benchmark_tables.csv.gz, items-ablation_lambda-*.csv.gz)")
    result = item_table.compare(item_table.read_folder(args.committed), item_table.read_folder(args.regenerated),
                                args.tolerance)
    print(json.dumps(result, indent=1))
    print("agree" if result["agree"] else "DO NOT AGREE", file=sys.stderr)
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
