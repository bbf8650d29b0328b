"""Command line: the committed study in the local MLflow store, without training (``make mlflow-import``).

    python -m mats_lib.cli.mlflow_import mini

Every report JSON of reports/<preset>/ becomes runs of the experiment ``mats-<preset>`` (``analysis.mlflow_view``
says which), tagged with the report's file, its hash, the revision that wrote it and the importing commit. A second
call adds nothing; a changed report replaces its runs.
"""
from __future__ import annotations

import argparse
import json

from ..analysis.mlflow_view import report_spec
from ..paths import REPO_ROOT, reports_dir
from ..provenance import file_sha256, git_revision
from ..tracking import default_tracking_uri, experiment_for, import_report


def import_reports(preset: str, tracking_uri: str | None = None) -> dict[str, int]:
    """{report file: runs logged} for every report of reports/<preset>/ that has a view."""
    folder = reports_dir(preset)
    logged = {}
    importing = git_revision()
    for path in sorted(folder.glob("*.json")):
        report = json.loads(path.read_text())
        spec = report_spec(path.stem, report)
        if spec is None:
            continue
        name = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name
        tags = {"preset": preset, "mats.importing_commit": importing,
                "mats.report_revision": report.get("provenance", {}).get("git_revision", "not recorded")}
        logged[name] = import_report(experiment_for(preset), name, file_sha256(path), spec, tags, tracking_uri)
    return logged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="mini")
    args = parser.parse_args(argv)
    logged = import_reports(args.preset)
    for name, runs in logged.items():
        print(f"{name}: {runs} runs" if runs else f"{name}: already imported")
    print(f"experiment {experiment_for(args.preset)} in {default_tracking_uri()}")


if __name__ == "__main__":
    main()
