"""The transfer table: raw / noise / memory / Santa (+ test_noise, mean_shift) and MATS-Audio, per encoder, over training seeds.

    python -m mats_lib.cli.transfer_table --config mini --encoders tagclap miniclap --seeds 0 1 2   # `make transfer-table`

Needs the run matrix (`make runs`); a missing run is an error naming its make target, unless
--allow-missing (its conditions are then reported as "not run"). Evaluation parts are keyed and cached under
reports/eval/. Writes reports/<preset>/transfer_table.{json,md} and, with --update-readme, the README's block.
"""
from __future__ import annotations

import argparse
import json

from ..analysis.readme_blocks import update_readme
from ..analysis.transfer_table import CONDITIONS, README_BEGIN, README_END, build, readme_block, to_markdown
from ..paths import reports_dir
from ..provenance import provenance, write_atomic, write_json_atomic
from ..tracking import EvalTracker


def tracker_for(run, settings):
    params = {k: v for k, v in settings.flat().items() if k.split(".")[0] in ("santa", "eval", "decoding")}
    return EvalTracker("mats-eval", f"eval-{run.name}", {"run": str(run), **params})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini", help="preset")
    parser.add_argument("--encoders", nargs="+", default=["tagclap", "miniclap"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--conditions", nargs="+", default=["raw", "noise", "memory", "santa", "mean_shift", "MATS-Audio"],
                        choices=list(CONDITIONS))
    parser.add_argument("--allow-missing", action="store_true", help="report conditions without runs as 'not run'")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the README's transfer-table block")
    parser.add_argument("--no-tracking", action="store_true")
    args = parser.parse_args()
    command = (f"python -m mats_lib.cli.transfer_table --config {args.config} --encoders {' '.join(args.encoders)} "
               f"--seeds {' '.join(map(str, args.seeds))} --conditions {' '.join(args.conditions)}"
               + (" --allow-missing" if args.allow_missing else ""))
    table = build(args.config, args.encoders, args.seeds, args.conditions, command=command,
                  allow_missing=args.allow_missing, tracker_factory=None if args.no_tracking else tracker_for)
    table["provenance"] = provenance()
    out = reports_dir(args.config) / "transfer_table"
    write_json_atomic(out.with_suffix(".json"), table)
    markdown = to_markdown(table)
    write_atomic(out.with_suffix(".md"), markdown)
    if args.update_readme:  # from the JSON as written, as tests/test_reports.py reads it
        update_readme(README_BEGIN, README_END, readme_block(json.loads(out.with_suffix(".json").read_text())))
    print(markdown)


if __name__ == "__main__":
    main()
