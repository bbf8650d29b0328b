"""The committed study in a fresh clone's MLflow store, without training: runs, params, metrics with intervals,
and a second import that adds nothing."""
import json
import shutil

from mats_lib.paths import REPO_ROOT


def test_import_fills_the_store_with_the_committed_study_once(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from mats_lib.cli.mlflow_import import import_reports

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    reports = tmp_path / "reports"
    shutil.copytree(REPO_ROOT / "reports" / "mini", reports / "mini", ignore=shutil.ignore_patterns("notebooks", "figures"))
    monkeypatch.setenv("MATS_REPORTS_DIR", str(reports))
    first = import_reports("mini")
    assert first["benchmark_tables.json"] > 10 and all(n > 0 for n in first.values())
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mats-mini")
    runs = client.search_runs([experiment.experiment_id], max_results=10000)
    assert len(runs) == sum(first.values())
    table = json.loads((reports / "mini" / "benchmark_tables.json").read_text())
    santa = next(r for r in runs if r.info.run_name == "tagclap/santa" and r.data.tags["mats.report"] == "benchmark_tables.json")
    cell = table["encoders"]["tagclap"]["conditions"]["santa"]["classification"]
    assert santa.data.params["condition"] == "santa" and santa.data.params["encoder.name"] == "tagclap"
    assert santa.data.metrics["classification"] == cell["value"]
    assert [santa.data.metrics["classification_ci_low"], santa.data.metrics["classification_ci_high"]] == cell["ci95"]
    assert "mlflow.parentRunId" in santa.data.tags and santa.data.tags["claim"] == "C1,C2,C7"
    assert santa.data.tags["mats.report_revision"] == table["provenance"]["git_revision"]
    sweep = [r for r in runs if r.data.tags["mats.report"] == "ablation_lambda-tagclap.json" and "santa.lam" in r.data.params]
    assert sorted(float(r.data.params["santa.lam"]) for r in sweep) == [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    assert any(r.data.tags["mats.report"].startswith("train-") and "loss_last25" in r.data.metrics for r in runs)
    # idempotent: a second call adds nothing; a changed report replaces its own runs and only those
    assert sum(import_reports("mini").values()) == 0
    efficiency = reports / "mini" / "efficiency.json"
    changed = json.loads(efficiency.read_text())
    changed["training"]["ratios"]["audio / text embedding cost per input"] = 9.0
    efficiency.write_text(json.dumps(changed))
    again = import_reports("mini")
    assert again["efficiency.json"] == 1 and sum(again.values()) == 1
    live = client.search_runs([experiment.experiment_id], max_results=10000)
    assert len(live) == len(runs)
    [run] = [r for r in live if r.data.tags["mats.report"] == "efficiency.json"]
    assert run.data.metrics["ratio.audio / text embedding cost per input"] == 9.0
    # make mlflow-ui opens on this experiment; an empty store says how to fill it
    from mats_lib.cli.mlflow_ui import experiment_address

    address, what = experiment_address(uri, "mini", 5001)
    assert address == f"http://127.0.0.1:5001/#/experiments/{experiment.experiment_id}" and what == f"mats-mini: {len(runs)} runs"
    address, what = experiment_address(uri, "paper", 5001)
    assert address == "http://127.0.0.1:5001" and "make mlflow-import PRESET=paper" in what
