"""Command line: the MLflow UI on 127.0.0.1, opening on the study's experiment (``make mlflow-ui``).

    python -m mats_lib.cli.mlflow_ui --preset mini --port 5000 --store sqlite:///mlflow.db

The UI itself has no start page setting, so this prints the address of the preset's experiment (``mats-<preset>``)
with its run count, or says how to fill an empty store (``make mlflow-import``), then hands over to ``mlflow ui``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

from ..tracking import experiment_for


def experiment_address(store: str, preset: str, port: int) -> tuple[str, str]:
    """(the address the UI should open on, a line saying what is there)."""
    from mlflow.tracking import MlflowClient

    name = experiment_for(preset)
    base = f"http://127.0.0.1:{port}"
    experiment = MlflowClient(store).get_experiment_by_name(name)
    if experiment is None:
        return base, (f"{name} is not in {store} yet: `make mlflow-import PRESET={preset}` logs the committed study "
                      f"without training; a training run or notebook logs its own")
    runs = MlflowClient(store).search_runs([experiment.experiment_id], max_results=50000)
    return f"{base}/#/experiments/{experiment.experiment_id}", f"{name}: {len(runs)} runs"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--store", default="sqlite:///mlflow.db")
    parser.add_argument("--print-only", action="store_true", help="print the address and exit (no server)")
    args = parser.parse_args(argv)
    address, what = experiment_address(args.store, args.preset, args.port)
    print(f"{what}\nopen {address}", flush=True)
    if args.print_only:
        return
    mlflow = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
    os.execv(mlflow, [mlflow, "ui", "--host", "127.0.0.1", "--port", str(args.port), "--backend-store-uri", args.store])


if __name__ == "__main__":
    main()
