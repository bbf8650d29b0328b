"""Experiment tracking: the only module that imports MLflow.

Default store: ``sqlite:///<repo>/mlflow.db`` with artifacts in ``<repo>/mlartifacts`` (both ignored);
``MLFLOW_TRACKING_URI`` points runs at a remote server instead. A run that raises is ended FAILED and
keeps what it logged. ``NullTracker`` stands in on DDP ranks other than 0 and when tracking is off.

Several notebooks may log into one SQLite store at once. MLflow creates and migrates a new store's schema,
and creates an experiment, without guarding against a second process doing the same (seen here: "duplicate
column name: step" when four processes opened a new store together), and SQLite answers "database is
locked" when a writer waits too long. So a store's first use is serialized by a file lock beside it, an
experiment created by someone else in the meantime is simply used, and writes that meet a locked database
are retried with back-off.
"""
from __future__ import annotations

import fcntl
import os
import platform
import random
import time
from contextlib import contextmanager
from pathlib import Path

from .paths import REPO_ROOT
from .provenance import git_revision, package_versions


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


@contextmanager
def store_lock(uri: str):
    """Exclusive lock on a SQLite store's first use (schema creation, experiment creation); none for servers."""
    path = _sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_lock_contention(error: Exception) -> bool:
    text = str(error).lower()
    return "database is locked" in text or "database table is locked" in text


def retrying(call, *args, attempts: int = 8, **kwargs):
    """call(*args, **kwargs), retried with jittered exponential back-off while SQLite reports a locked database."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as error:  # MlflowException or sqlalchemy's OperationalError, depending on the call
            if not _is_lock_contention(error) or attempt == attempts - 1:
                raise
            time.sleep(min(8.0, 0.1 * 2 ** attempt) * (0.5 + random.random()))


def experiment_for(preset: str, configured: str | None = None) -> str:
    """The MLflow experiment of a preset: one per preset (``mats-<preset>``), unless the config names another."""
    return configured or f"mats-{preset}"


def environment_tags() -> dict[str, str]:
    revision = git_revision()
    tags = {"git_revision": revision, "mlflow.source.git.commit": revision.removesuffix("-dirty"),
            "python": platform.python_version(), "machine": platform.machine()}
    tags.update({f"version.{name}": version for name, version in package_versions().items()})
    return tags


class NullTracker:
    run_id = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def log_params(self, params: dict) -> None: ...
    def log_metrics(self, metrics: dict, step: int) -> None: ...
    def set_tags(self, tags: dict) -> None: ...
    def log_artifact(self, path: str | Path, folder: str | None = None) -> None: ...
    def log_inputs(self, datasets: list[dict]) -> None: ...


class MlflowTracker(NullTracker):
    def __init__(self, experiment: str, run_name: str | None = None, tracking_uri: str | None = None,
                 parent_run_id: str | None = None):
        import mlflow

        self._mlflow = mlflow
        self.uri = tracking_uri or default_tracking_uri()
        mlflow.set_tracking_uri(self.uri)
        with store_lock(self.uri):
            self._ensure_experiment(experiment)
            retrying(mlflow.set_experiment, experiment)
        self.run_name = run_name
        self.parent_run_id = parent_run_id
        self.run_id = None

    def _ensure_experiment(self, experiment: str) -> None:
        from mlflow.exceptions import MlflowException

        if retrying(self._mlflow.get_experiment_by_name, experiment) is not None:
            return
        sqlite = _sqlite_path(self.uri)  # local artifacts beside the store (mlartifacts/, ignored)
        location = (sqlite.parent / "mlartifacts").as_uri() if sqlite else None
        try:
            retrying(self._mlflow.create_experiment, experiment, artifact_location=location)
        except MlflowException as error:  # another process (or server client) created it first
            if retrying(self._mlflow.get_experiment_by_name, experiment) is None:
                raise error

    def __enter__(self):
        nested = self.parent_run_id is not None
        run = retrying(self._mlflow.start_run, run_name=self.run_name, nested=nested,
                       tags={"mlflow.parentRunId": self.parent_run_id} if nested else None)
        self.run_id = run.info.run_id
        return self

    def __exit__(self, exc_type, exc, tb):
        # A crash (or Ctrl-C) marks the run FAILED / KILLED; what was logged stays in the store.
        status = "FINISHED" if exc_type is None else ("KILLED" if exc_type is KeyboardInterrupt else "FAILED")
        if exc_type is not None:
            retrying(self._mlflow.set_tag, "error", f"{exc_type.__name__}: {exc}"[:5000])
        retrying(self._mlflow.end_run, status=status)
        return False

    def log_params(self, params: dict) -> None:
        clean = {k: ("null" if v is None else str(v))[:6000] for k, v in params.items()}
        retrying(self._mlflow.log_params, clean)

    def log_metrics(self, metrics: dict, step: int) -> None:
        retrying(self._mlflow.log_metrics, {k: float(v) for k, v in metrics.items()}, step=step)

    def set_tags(self, tags: dict) -> None:
        retrying(self._mlflow.set_tags, {k: str(v) for k, v in tags.items()})

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            retrying(self._mlflow.log_artifacts, str(path), artifact_path=folder)
        else:
            retrying(self._mlflow.log_artifact, str(path), artifact_path=folder)


    def log_inputs(self, datasets: list[dict]) -> None:
        """Each dataset ({name, path, digest, context}: ``data.sources.data_inputs``) as an MLflow input of the run,
        named and digested as this project hashes it, with where it lives."""
        import warnings

        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset

        for data in datasets:
            with warnings.catch_warnings():  # a local path matches two equal registrations of the local source
                warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways.*")
                source = resolve_dataset_source(str(data["path"]))
            dataset = MetaDataset(source, name=data["name"], digest=data["digest"])
            for attempt in range(5):
                # Runs started together may insert the same dataset at once; the store's unique constraint turns
                # away all but one, and a retry then finds it and links it to this run
                try:
                    retrying(self._mlflow.log_input, dataset, context=data["context"])
                    break
                except Exception as error:  # RestException or IntegrityError, depending on the store
                    if "UNIQUE constraint failed" not in str(error) or attempt == 4:
                        raise
                    time.sleep(0.2 * (attempt + 1) * (0.5 + random.random()))


def run_status(run_id: str, tracking_uri: str | None = None) -> tuple[str, dict]:
    """(status, metrics) of a run, for tests and notebooks."""
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri or default_tracking_uri()).get_run(run_id)
    return run.info.status, dict(run.data.metrics)


NOTEBOOK_ENV, NOTEBOOK_TAG = "MATS_NOTEBOOK", "mats.notebook"


def attach_notebook(notebook: str | Path, since_ms: int, tracking_uri: str | None = None) -> list[str]:
    """Log the executed ``notebook`` into every run started since ``since_ms`` that carries its path (the notebook's
    own runs, tagged by ``EvalTracker``); returns their ids."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri or default_tracking_uri())
    path = str(Path(notebook).resolve())
    runs = retrying(client.search_runs, [e.experiment_id for e in retrying(client.search_experiments)],
                    f"tags.`{NOTEBOOK_TAG}` = '{path}' and attributes.start_time >= {since_ms}")
    for run in runs:
        retrying(client.log_artifact, run.info.run_id, path, "notebook")
    return [run.info.run_id for run in runs]


class EvalTracker:
    """A parent MLflow run per evaluation (or per notebook execution), one nested run per part or variant."""

    def __init__(self, experiment: str, run_name: str, params: dict | None = None, inputs: list[dict] | None = None):
        self.experiment = experiment
        self.parent = MlflowTracker(experiment, run_name)
        self.params = params or {}
        self.inputs = inputs or []

    def __enter__(self):
        self.parent.__enter__()
        # Under `python -m mats_lib.cli.run_notebook` the kernel inherits NOTEBOOK_ENV: the executed notebook is
        # logged into the run that carries its path once papermill has written it whole.
        notebook = {NOTEBOOK_TAG: os.environ[NOTEBOOK_ENV]} if os.environ.get(NOTEBOOK_ENV) else {}
        self.parent.set_tags({**environment_tags(), **notebook})
        self.parent.log_params(self.params)
        self.parent.log_inputs(self.inputs)
        return self

    def __exit__(self, *exc):
        return self.parent.__exit__(*exc)

    def log_part(self, name: str, metrics: dict, folder: Path, params: dict) -> None:
        """One nested run per evaluation part, with every setting that made it as a param (the compare
        view lines parts up by santa.lam, decoding.num_beams, ...) and its headline metrics."""
        # Parts of two evaluations share a name (transfer/task/seed): the key's head tells them apart in the UI.
        run_name = f"{name} [{params['part_key'][:8]}]" if params.get("part_key") else name
        with MlflowTracker(self.experiment, run_name, parent_run_id=self.parent.run_id) as child:
            child.log_params({**params, "n": metrics["n"]})
            values = {metrics["metric"]: metrics["value"]}
            values.update({k: metrics[k] for k in ("accuracy", "balanced_accuracy", "majority_rate", "balanced_chance")
                           if k in metrics})
            values.update({k: v for k, v in metrics.get("scores", {}).items() if isinstance(v, float)})
            child.log_metrics(values, step=0)
            child.log_artifact(folder, folder="part")
        self.parent.log_metrics({name.replace("/", "."): metrics["value"]}, step=0)

    def log_variant(self, name: str, params: dict, metrics: dict) -> None:
        """One nested run per variant of a sweep (e.g. per lambda), its settings as params."""
        with MlflowTracker(self.experiment, name, parent_run_id=self.parent.run_id) as child:
            child.log_params(params)
            child.log_metrics({k: v for k, v in metrics.items() if v is not None}, step=0)

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        """An artifact of the parent run, while it is open or after it ended (a figure drawn in a later cell)."""
        if self.parent.run_id is not None and self.parent._mlflow.active_run() is None:
            from mlflow.tracking import MlflowClient

            retrying(MlflowClient(self.parent.uri).log_artifact, self.parent.run_id, str(path), folder)
        else:
            self.parent.log_artifact(path, folder)


# ------------------------------------------------------------------------------------------ committed reports
REPORT_TAG, REPORT_SHA_TAG = "mats.report", "mats.report_sha"


def _ensure_experiment_id(client, uri: str, experiment: str) -> str:
    with store_lock(uri):
        found = retrying(client.get_experiment_by_name, experiment)
        if found is not None:
            return found.experiment_id
        sqlite = _sqlite_path(uri)
        location = (sqlite.parent / "mlartifacts").as_uri() if sqlite else None
        return retrying(client.create_experiment, experiment, artifact_location=location)


def _log_spec(client, experiment_id: str, spec: dict, tags: dict, parent_id: str | None = None) -> int:
    from mlflow.entities import Metric, Param

    run_tags = {**tags, **{k: str(v) for k, v in spec["tags"].items()}}
    if parent_id:
        run_tags["mlflow.parentRunId"] = parent_id
    run = retrying(client.create_run, experiment_id, run_name=spec["name"], tags=run_tags)
    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, 0) for k, v in spec["metrics"].items()]
    metrics += [Metric(name, float(v), now, int(step)) for name, points in spec["series"].items() for step, v in points]
    params = [Param(k, ("null" if v is None else str(v))[:6000]) for k, v in spec["params"].items()]
    for start in range(0, max(len(metrics), 1), 900):  # MLflow takes at most 1,000 metrics per batch
        retrying(client.log_batch, run.info.run_id, metrics=metrics[start:start + 900],
                 params=params if start == 0 else [], tags=[])
    retrying(client.set_terminated, run.info.run_id, "FINISHED")
    return 1 + sum(_log_spec(client, experiment_id, child, tags, run.info.run_id) for child in spec["children"])


def import_report(experiment: str, report: str, sha: str, spec: dict, tags: dict,
                  tracking_uri: str | None = None) -> int:
    """Log one committed report's runs (``analysis.mlflow_view``), idempotently: nothing when runs tagged with this
    report and its hash exist; the report's older runs deleted and replaced when its hash changed. Returns the
    number of runs logged."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or default_tracking_uri()
    client = MlflowClient(uri)
    experiment_id = _ensure_experiment_id(client, uri, experiment)
    existing = retrying(client.search_runs, [experiment_id], filter_string=f"tags.`{REPORT_TAG}` = '{report}'",
                        max_results=10000)
    if any(r.data.tags.get(REPORT_SHA_TAG) == sha for r in existing):
        return 0
    for run in existing:
        retrying(client.delete_run, run.info.run_id)
    return _log_spec(client, experiment_id, spec, {**tags, REPORT_TAG: report, REPORT_SHA_TAG: sha})
