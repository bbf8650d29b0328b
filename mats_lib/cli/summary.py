"""Command line: reports/<preset>/summary.{md,json}, one row per claim C1-C8 (``make summary``).

    python -m mats_lib.cli.summary mini --update-readme      # also the README's verdict block

The rows are :mod:`mats_lib.analysis.summary`'s, from the JSON the notebooks wrote.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis import declaration
from ..analysis.summary import (README_BEGIN, README_END, SETTING, collect, from_declared_tests, readme_block,
                                summary_markdown)
from ..paths import reports_dir
from ..provenance import write_atomic, write_json_atomic
from .. import study


def write_summary(preset: str, update_readme: bool = False) -> Path:
    """summary.md and summary.json in reports/<preset>/; with ``update_readme`` the README's verdict block too."""
    rows = collect(preset)
    folder = reports_dir(preset)
    summary = {"preset": preset, "setting": SETTING.get(preset, preset), "claims": rows}
    if from_declared_tests(rows):
        declared = declaration.load()
        summary["declaration"] = {"path": "mats_lib/analysis/claims.yaml", "declared": declared["declared"],
                                  "commit": declared["commit"]}
    write_json_atomic(folder / "summary.json", summary)
    path = folder / "summary.md"
    write_atomic(path, summary_markdown(preset, rows))
    if update_readme:
        study.update_readme(README_BEGIN, README_END, readme_block(summary))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="mini")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the README's verdict block")
    args = parser.parse_args(argv)
    print(write_summary(args.preset, args.update_readme))


if __name__ == "__main__":
    main()
