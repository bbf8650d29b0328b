"""Command line: papermill, then the executed notebook logged into the MLflow runs it made (``make``'s notebook steps).

    python -m mats_lib.cli.run_notebook notebooks/ablation_lambda.ipynb out.ipynb -k mats -p preset smoke

Every argument after the two notebooks goes to papermill unchanged. The notebook's kernel inherits ``MATS_NOTEBOOK``
(the output path), which ``tracking.EvalTracker`` writes as a tag on the notebook's run; once papermill has written
the executed notebook whole (a notebook cannot log its own final state), it is logged as an artifact of every run
carrying that tag, failed executions included (papermill keeps what ran); a notebook that logged no run of its own
gets one (``notebook <name>`` in ``mats-<preset>``) holding it. Exits with papermill's status.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..tracking import NOTEBOOK_ENV, _sqlite_path, attach_notebook, default_tracking_uri


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: python -m mats_lib.cli.run_notebook INPUT.ipynb OUTPUT.ipynb [papermill options]", file=sys.stderr)
        return 2
    output = Path(argv[1]).resolve()
    papermill = shutil.which("papermill", path=os.path.dirname(sys.executable)) or "papermill"
    started_ms = int(time.time() * 1000) - 1000
    status = subprocess.run([papermill, *argv], env={**os.environ, NOTEBOOK_ENV: str(output)}).returncode
    uri = default_tracking_uri()
    store = _sqlite_path(uri)
    if output.is_file() and (store is None or store.exists()):  # a store that was never written is not created
        runs = attach_notebook(output, started_ms, uri) or [notebook_run(output, parameter(argv, "preset", "mini"),
                                                                         status)]
        print(f"{output.name}: logged into MLflow run(s) {', '.join(r[:8] for r in runs)}")
    return status


def parameter(argv: list[str], name: str, default: str) -> str:
    """The value papermill's ``-p NAME VALUE`` (or ``--parameters``) gives, else the notebook's default."""
    for i, arg in enumerate(argv[:-2]):
        if arg in ("-p", "--parameters") and argv[i + 1] == name:
            return argv[i + 2]
    return default


def notebook_run(output: Path, preset: str, status: int) -> str:
    """A run of its own for a notebook that logged none (it trained or reused runs, or only wrote reports): the
    executed notebook, tagged with its path, FAILED when papermill failed."""
    from ..tracking import NOTEBOOK_TAG, MlflowTracker, environment_tags, experiment_for

    with MlflowTracker(experiment_for(preset), f"notebook {output.stem}") as run:
        run.set_tags({**environment_tags(), NOTEBOOK_TAG: str(output), "preset": preset,
                      "papermill_status": status})
        run.log_artifact(output, "notebook")
    if status:
        from mlflow.tracking import MlflowClient

        MlflowClient(run.uri).set_terminated(run.run_id, "FAILED")
    return run.run_id


if __name__ == "__main__":
    sys.exit(main())
