"""Four processes logging a sweep at once into one store lose nothing and surface no "database is locked";
four papermill executions of a study notebook against one store (SQLite, then a server) do the same.

The processes start once and meet at a barrier before each round, so that all four open the store, create the
experiment and write their runs at the same moment; each round uses a new store (the schema-creation race is
the one MLflow itself does not guard). Five rounds against SQLite, five against a local `mlflow server`.
"""
import multiprocessing

import pytest

WORKERS, ROUNDS, VARIANTS = 4, 5, 4


def log_rounds(worker: int, uris: list[str], barrier, failures) -> None:
    import os

    from mats_lib.tracking import EvalTracker

    for uri in uris:
        barrier.wait(timeout=300)
        os.environ["MLFLOW_TRACKING_URI"] = uri
        try:
            # What a notebook execution logs: one parent run, one nested run per variant of its sweep.
            with EvalTracker("race", f"execution-{worker}", {"worker": worker}) as tracker:
                for variant in range(VARIANTS):
                    tracker.log_variant(f"lam-{variant}", {"santa.lam": variant / 10, "worker": worker},
                                        {"balanced_accuracy": variant + worker / 10})
        except Exception as error:  # reported to the test, which fails with it
            failures.put(f"worker {worker}, {uri}: {type(error).__name__}: {error}")


def race(uris: list[str]) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, failures = context.Barrier(WORKERS), context.Queue()
    workers = [context.Process(target=log_rounds, args=(w, uris, barrier, failures)) for w in range(WORKERS)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=600)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in workers] == [0] * WORKERS


def assert_nothing_lost(uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("race")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == WORKERS and len(children) == WORKERS * VARIANTS, uri
    assert all(r.info.status == "FINISHED" for r in runs)
    by_parent = {p.info.run_id: int(p.data.params["worker"]) for p in parents}
    for child in children:
        worker = by_parent[child.data.tags["mlflow.parentRunId"]]
        variant = int(child.info.run_name.split("-")[1])
        assert child.data.params == {"santa.lam": str(variant / 10), "worker": str(worker)}
        assert child.data.metrics == {"balanced_accuracy": pytest.approx(variant + worker / 10)}
    assert sorted(by_parent.values()) == list(range(WORKERS))


def test_four_processes_share_one_sqlite_store(tmp_path):
    uris = [f"sqlite:///{tmp_path / f'round{r}' / 'mlflow.db'}" for r in range(ROUNDS)]
    race(uris)
    for uri in uris:
        assert_nothing_lost(uri)


def test_four_processes_share_one_tracking_server(mlflow_server):
    # The first round races on the experiment's creation, every round on the writes (a new server per round
    # would add its start-up time five times over).
    race([mlflow_server] * ROUNDS)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("race")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == WORKERS * ROUNDS and len(children) == WORKERS * ROUNDS * VARIANTS
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {(c.data.params["worker"], c.data.params["santa.lam"]) for c in children} == {
        (str(w), str(v / 10)) for w in range(WORKERS) for v in range(VARIANTS)}


def execute_notebooks_at_once(uri: str, tmp_path) -> None:
    """Four papermill executions of the modality-gap notebook (smoke preset), started together, one store."""
    import os
    import subprocess
    import sys

    from mats_lib.paths import REPO_ROOT

    procs = []
    for k in range(WORKERS):
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MATS_REPORTS_DIR": str(tmp_path / f"reports{k}"),
               "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "papermill", str(REPO_ROOT / "notebooks" / "modality_gap_tsne.ipynb"),
             str(tmp_path / f"out{k}.ipynb"), "-k", "mats", "--no-progress-bar", "-p", "preset", "smoke",
             "-p", "n_pairs", "40", "-p", "resamples", "20"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
        assert "database is locked" not in out, out[-3000:]


def assert_four_executions_logged(uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mats-smoke")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == WORKERS and all(r.info.status == "FINISHED" for r in runs)
    per_parent = [[c for c in children if c.data.tags["mlflow.parentRunId"] == p.info.run_id] for p in parents]
    assert len({len(c) for c in per_parent}) == 1 and len(per_parent[0]) >= 1  # every execution logged all its variants
    # the same notebook on the same settings: each execution logged the same params and metrics, none lost
    signature = lambda cs: sorted((c.info.run_name, tuple(sorted(c.data.params.items())), tuple(sorted(c.data.metrics)))
                                  for c in cs)
    assert all(signature(c) == signature(per_parent[0]) for c in per_parent)
    assert all(p.data.params == parents[0].data.params for p in parents)


def test_four_notebook_executions_share_one_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    execute_notebooks_at_once(uri, tmp_path)
    assert_four_executions_logged(uri)


def test_four_notebook_executions_share_one_tracking_server(mlflow_server, tmp_path):
    execute_notebooks_at_once(mlflow_server, tmp_path)
    assert_four_executions_logged(mlflow_server)
