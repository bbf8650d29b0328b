"""The transfer levers of docs/transfer_levers.md: train (when missing) and evaluate text-only recipes side by side.

    python scripts/transfer_levers.py --config mini --encoders tagclap miniclap --seeds 0 \
        --lever today --lever noise0.015=data.noise_variance:0.015 --lever noise0.06=data.noise_variance:0.06

The first lever is the reference. Runs train one at a time through the code of `make train` (a run whose key
matches is reused); parts are keyed and cached under reports/eval/. Writes reports/<preset>/transfer_levers.{json,md}
(or --out).
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from mats_lib.analysis.levers import TRANSFERS, lever_table, parse_lever, to_markdown
from mats_lib.analysis.transfer_table import CONDITIONS
from mats_lib.paths import REPO_ROOT
from mats_lib.provenance import provenance, write_atomic, write_json_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini", help="preset")
    parser.add_argument("--encoders", nargs="+", default=["tagclap", "miniclap"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--lever", action="append", required=True, help="label[=key:value,...]; the first is the reference")
    parser.add_argument("--transfers", nargs="+", default=list(TRANSFERS), choices=list(CONDITIONS),
                        help="conditions of the transfer table evaluated per lever (default: noise santa)")
    parser.add_argument("--out", type=Path, default=None, help="default reports/<preset>/transfer_levers")
    args = parser.parse_args()
    command = (f"python scripts/transfer_levers.py --config {args.config} --encoders {' '.join(args.encoders)} "
               f"--seeds {' '.join(map(str, args.seeds))} " + " ".join(f"--lever {shlex.quote(l)}" for l in args.lever)
               + (f" --transfers {' '.join(args.transfers)}" if args.transfers != list(TRANSFERS) else "")
               + (f" --out {args.out}" if args.out else ""))
    table = lever_table(args.config, args.encoders, args.seeds, [parse_lever(l) for l in args.lever], command=command,
                        transfers=tuple(args.transfers))
    table["provenance"] = provenance()
    out = args.out or REPO_ROOT / "reports" / args.config / "transfer_levers"
    write_json_atomic(out.with_suffix(".json"), table)
    markdown = to_markdown(table)
    write_atomic(out.with_suffix(".md"), markdown)
    print(markdown)


if __name__ == "__main__":
    main()
