"""Command line of ``mats_lib.steps``: pipeline steps that run only when what they read or wrote has changed.

    python -m mats_lib.steps run NAME --preset mini --inputs code:package 'experiments/*.yaml' ... --outputs F ... -- CMD ...
    python -m mats_lib.steps times --preset mini

mats_lib.steps's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..steps import recorded_times, run_step


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m mats_lib.steps", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a step unless it is up to date")
    run.add_argument("name")
    run.add_argument("--preset", required=True)
    run.add_argument("--inputs", nargs="*", default=[])
    run.add_argument("--outputs", nargs="+", required=True)
    times = sub.add_parser("times", help="list the recorded wall time of each step")
    times.add_argument("--preset", required=True)
    args = parser.parse_args(own)
    if args.action == "times":
        stamps = recorded_times(args.preset)
        for s in stamps:
            print(f"{s['seconds'] / 60:7.1f} min  {s['name']}  (finished {s['finished_utc']})")
        print(f"{sum(s['seconds'] for s in stamps) / 60:7.1f} min  in all ({len(stamps)} steps)")
        return 0
    if not command:
        parser.error("give the step's command after --")
    return run_step(args.preset, args.name, command, args.inputs, args.outputs,
                    force=os.environ.get("FORCE", "") not in ("", "0"))


if __name__ == "__main__":
    main()
