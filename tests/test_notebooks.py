"""The study notebooks: committed clean, parameters that are flat literals the config knows, executed by papermill."""
import ast
import json

import nbformat
import pytest

from mats_lib.config import load_config
from mats_lib.study import dotted
from mats_lib.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
# parameters that are not config fields: what to run, sweeps as comma strings
STUDY_PARAMETERS = {"preset", "seeds", "lambdas", "train_missing", "n_pairs", "resamples", "encoders", "conditions",
                    "allow_missing", "noise", "n_train", "steps", "warmup",
                    "n_embed", "n_generate", "benchmark", "benchmark_root", "allow_missing_clips", "report_dir"}


def parameters_of(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    values = {}
    for statement in tree.body:
        assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant), \
            f"{path.name}: the parameters cell holds flat literals only"
        values[statement.targets[0].id] = statement.value.value
    return nb, values


def execute(name, parameters, tmp_path, monkeypatch, out="out.ipynb"):
    """Run a notebook under papermill with the `mats` kernel, MLflow and reports in tmp_path; returns the MLflow URI."""
    import papermill

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MATS_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / name), str(tmp_path / out), parameters=parameters,
                               kernel_name="mats", progress_bar=False, cwd=str(REPO_ROOT))
    return uri


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_parameters_match_the_config(path):
    nb, values = parameters_of(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"
    flat = load_config(values["preset"]).flat()
    for name in values:
        assert name in STUDY_PARAMETERS or dotted(name) in flat, f"{path.name}: parameter {name} is not a config field"
    # papermill sees every parameter with its documentation (a line it cannot parse makes `-p` warn "unknown")
    import papermill

    seen = papermill.inspect_notebook(str(path))
    assert list(seen) == list(values), f"{path.name}: papermill reads {list(seen)}"
    assert all(p["help"] for p in seen.values()), f"{path.name}: a parameter without its comment"


def test_ablation_lambda_runs_under_papermill_and_logs_one_nested_run_per_lambda(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = execute("ablation_lambda.ipynb", {"preset": "smoke", "seeds": "0", "lambdas": "0,0.3,1"}, tmp_path, monkeypatch)
    sweep = json.loads((tmp_path / "reports" / "smoke" / "ablation_lambda-tagclap.json").read_text())
    assert [r["lam"] for r in sweep["rows"]] == [0.0, 0.3, 1.0] and "provenance" in sweep
    assert "caption_vs_0.3" in sweep["rows"][0] and "caption_vs_0.3" not in sweep["rows"][1]
    assert sweep["claim"]["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    assert {"without the audio embedding (lambda 1)", "without noise on the retrieved texts (santa.noise_variance 0)"} \
        <= set(sweep["c6"]["differences_vs_full_santa"])
    assert (tmp_path / "reports" / "smoke" / "figures" / "ablation_lambda-tagclap.png").stat().st_size > 10_000
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("mats-smoke").experiment_id])
    nested = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(r.data.params["santa.lam"] for r in nested) == ["0.0", "0.3", "1.0"]
    assert all("caption" in r.data.metrics and "classification" in r.data.metrics for r in nested)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert any("Verdict on C4" in "".join(o.get("text", "") for o in c.get("outputs", [])) for c in executed.cells)


def test_modality_gap_runs_under_papermill_with_its_numbers_and_figure(tmp_path, monkeypatch):
    execute("modality_gap_tsne.ipynb", {"preset": "smoke", "n_pairs": 60, "resamples": 30}, tmp_path, monkeypatch)
    gap = json.loads((tmp_path / "reports" / "smoke" / "modality_gap-tagclap.json").read_text())
    assert set(gap["views"]) == {"clap", "noise", "memory", "santa"} and gap["pairs"] == 60
    for view in gap["views"].values():
        low, high = view["mmd2_rbf"]["ci95"]
        assert low <= high and 0.5 <= view["probe_accuracy"]["value"] <= 1.0
    assert gap["c3"]["verdict"] in ("better", "worse", "not distinguishable")
    clean = gap["clean_text_gap"]  # C3's declared inputs: every audio side against the same clean text, per clip
    assert set(clean["paired_cosine"]) == {"audio", "memory", "santa"} and len(clean["paired_cosine"]["santa"]) == 60
    assert {"centroid_distance", "mmd2_unbiased"} <= set(clean["differences"]["santa"])
    assert (tmp_path / "reports" / "smoke" / "figures" / "modality_gap_tsne-tagclap.png").stat().st_size > 20_000


def test_benchmark_tables_trains_what_it_needs_and_gives_a_verdict_per_claim(tmp_path, monkeypatch):
    uri = execute("benchmark_tables.ipynb", {"preset": "smoke", "encoders": "tagclap", "seeds": "0"}, tmp_path, monkeypatch)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("mats-smoke").experiment_id], max_results=1000)
    [parent] = [r for r in runs if r.info.run_name == "benchmark_tables-smoke"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    santa = next(r for r in children if r.info.run_name == "tagclap/santa")
    assert {"classification", "classification_ci_low", "classification_ci_high", "classification_vs_noise"} <= set(
        santa.data.metrics) and santa.data.params["condition"] == "santa"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"figures", "results"}
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "figures")} == {
        "figures/benchmark_tables.png", "figures/benchmark_tables-training_curves.png"}
    execute("ablation_lambda.ipynb", {"preset": "smoke", "seeds": "0", "lambdas": "0,0.3,1"}, tmp_path, monkeypatch,
            out="sweep.ipynb")
    table = json.loads((tmp_path / "reports" / "smoke" / "benchmark_tables.json").read_text())
    check_declared_verdicts_recompute_from_the_committed_inputs(tmp_path / "reports", monkeypatch)
    assert set(table["encoders"]["tagclap"]["conditions"]) == {"raw", "noise", "memory", "santa", "mean_shift",
                                                                     "MATS-Audio"}
    claims = table["claims"]["tagclap"]
    assert [c["claim"] for c in claims] == ["C1", "C2", "C7"]
    assert all(c["verdict"] in ("reproduced", "not reproduced", "inconclusive") for c in claims)
    assert (tmp_path / "reports" / "smoke" / "figures" / "benchmark_tables.png").stat().st_size > 20_000
    # the training curves of the runs it read, every condition overlaid, with the answer counts of its note
    assert (tmp_path / "reports" / "smoke" / "figures" / "benchmark_tables-training_curves.png").stat().st_size > 10_000
    executed = (tmp_path / "out.ipynb").read_text()
    assert "MATS-Audio (audio-supervised) ends at" in executed and "answers trained on, audio-train part" in executed


def test_benchmark_tables_take_a_paper_benchmark_by_name_and_root(tmp_path, monkeypatch):
    """Clotho-AQA in its published layout: every item evaluated; it has no training split, so no question-only
    prior is fitted (said, not invented). A benchmark this table cannot compare (mAP) is refused by name."""
    import papermill

    from tests.benchmark_layouts import LAYOUTS
    from tests.test_paper_path import clips

    LAYOUTS["clotho_aqa"](tmp_path / "clotho_aqa", clips(2))
    execute("benchmark_tables.ipynb", {"preset": "smoke", "encoders": "tagclap", "seeds": "0", "conditions": "noise,santa",
                                       "benchmark": "clotho_aqa", "benchmark_root": str(tmp_path / "clotho_aqa")},
            tmp_path, monkeypatch)
    table = json.loads((tmp_path / "reports" / "smoke" / "benchmark_tables-clotho_aqa.json").read_text())
    t = table["encoders"]["tagclap"]
    assert table["benchmark"]["name"] == "clotho_aqa" and table["benchmark"]["paper"] == "not recorded"
    assert set(t["per_task"]["santa"]) == {"clotho_aqa"} and t["task_baselines"]["clotho_aqa"]["n"] == 2
    assert "qa" in t["conditions"]["santa"] and "qa" not in t["baselines"]
    assert t["baseline_notes"]["clotho_aqa"]["baseline"].startswith("none: no training split")
    text = (tmp_path / "reports" / "smoke" / "benchmark_tables-clotho_aqa.md").read_text()
    assert text.startswith("# Modality transfers on clotho_aqa (test, every item)") and "paper's value: not recorded" in text
    LAYOUTS["fsd50k"](tmp_path / "fsd50k", clips(2))
    with pytest.raises(papermill.PapermillExecutionError, match="fsd50k is scored by mAP"):
        execute("benchmark_tables.ipynb", {"preset": "smoke", "encoders": "tagclap", "benchmark": "fsd50k",
                                           "benchmark_root": str(tmp_path / "fsd50k")}, tmp_path, monkeypatch, out="bad.ipynb")


def test_transfer_table_trains_what_it_needs_and_writes_its_report(tmp_path, monkeypatch):
    execute("transfer_table.ipynb", {"preset": "smoke", "encoders": "tagclap", "seeds": "0",
                                     "conditions": "raw,noise,santa", "train_missing": True}, tmp_path, monkeypatch)
    table = json.loads((tmp_path / "reports" / "smoke" / "transfer_table.json").read_text())
    assert set(table["encoders"]["tagclap"]["conditions"]) == {"raw", "noise", "santa"}
    assert (tmp_path / "reports" / "smoke" / "transfer_table.md").read_text().startswith("#")


def test_modality_geometry_writes_its_tables_and_figure(tmp_path, monkeypatch):
    execute("modality_geometry.ipynb", {"preset": "smoke", "encoders": "tagclap", "n_pairs": 40}, tmp_path, monkeypatch)
    report = json.loads((tmp_path / "reports" / "smoke" / "modality_geometry.json").read_text())
    assert "tagclap" in report["encoders"] and report["command"].startswith("papermill notebooks/modality_geometry")
    assert (tmp_path / "reports" / "smoke" / "figures" / "modality_geometry.png").stat().st_size > 10_000


def test_train_mats_trains_or_reuses_a_run_and_draws_its_loss(tmp_path, monkeypatch):
    import papermill

    for _ in range(2):  # the second execution reuses the run: same key, same report
        execute("train_mats.ipynb", {"preset": "smoke", "noise": "off"}, tmp_path, monkeypatch)
        report = json.loads((tmp_path / "reports" / "smoke" / "train-smoke-text-tagclap-seed0-noise_variance=0.0.json").read_text())
        assert report["key"]["settings"]["data"]["noise_variance"] == 0.0 and report["steps"] == 6
    assert (tmp_path / "reports" / "smoke" / "figures" / "train-smoke-text-tagclap-seed0-noise_variance=0.0.png").exists()
    with pytest.raises(papermill.PapermillExecutionError, match="noise must be"):
        execute("train_mats.ipynb", {"preset": "smoke", "noise": "maybe"}, tmp_path, monkeypatch, out="bad.ipynb")


def test_generalization_bound_runs_under_papermill(tmp_path, monkeypatch):
    execute("generalization_bound.ipynb", {"preset": "smoke", "encoders": "tagclap", "seeds": "0", "lambdas": "0,1",
                                           "n_train": 100}, tmp_path, monkeypatch)
    report = json.loads((tmp_path / "reports" / "smoke" / "generalization_bound.json").read_text())
    assert len(report["points"]) == 4  # plain, memory, santa at 0 and 1, one seed
    assert {"proxy_a_distance", "mmd2_rbf", "wasserstein1", "label_paired_distance", "test_error"} <= set(report["points"][0])
    # three distinct transfers (Santa at 0 is plain again) are fewer than the declared test needs: said, not decided
    assert report["claim"]["verdict"] == "inconclusive" and "fewer than 5" in report["claim"]["why"]
    assert report["claim"]["claim"] == "C5" and "tagclap/seed0" in report["text_risk"]
    assert (tmp_path / "reports" / "smoke" / "figures" / "generalization_bound.png").exists()


def test_efficiency_measures_ratios_and_judges_c8(tmp_path, monkeypatch):
    execute("efficiency.ipynb", {"preset": "smoke", "steps": 4, "warmup": 1, "n_embed": 4, "n_generate": 4},
            tmp_path, monkeypatch)
    report = json.loads((tmp_path / "reports" / "smoke" / "efficiency.json").read_text())
    ratios = {**report["training"]["ratios"], **report["inference"]["ratios"]}
    assert len(ratios) == 7 and all(v > 0 for v in ratios.values())  # incl. the step vs the matmul peak
    assert report["training"]["train_flops_per_sample"] > 0 and report["training"]["llm_dtype"] == "float32"
    assert report["claim"]["claim"] == "C8" and report["claim"]["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    samples = report["training"]["samples"]  # the raw timings C8 is recomputed from
    assert {(s["mode"], s["component"]) for s in samples} == {(m, c) for m in ("text", "audio") for c in ("embed", "step")}
    assert len([s for s in samples if s["mode"] == "text" and s["component"] == "step"]) == 3  # steps 2-4 after warm-up
    assert report["training"]["machine"] in report["claim"]["scope"] and "float32" in report["claim"]["scope"]


def test_summary_has_a_row_per_claim(tmp_path, monkeypatch):
    from mats_lib.analysis.summary import CLAIMS, replace_readme_block
    from mats_lib.cli.summary import write_summary

    monkeypatch.setenv("MATS_REPORTS_DIR", str(tmp_path))
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "efficiency.json").write_text(json.dumps(
        {"claim": {"claim": "C8", "verdict": "reproduced", "evidence": "audio / text embedding cost per input 9.0x"}}))
    text = write_summary("smoke").read_text()
    for claim in CLAIMS:
        assert f"| {claim} |" in text
    assert "**reproduced** | audio / text embedding cost per input 9.0x" in text
    assert "not run | run `make benchmark-tables PRESET=smoke`" in text
    summary = json.loads((tmp_path / "smoke" / "summary.json").read_text())
    assert summary["claims"]["C8"][0]["verdict"] == "reproduced" and summary["claims"]["C1"] == []
    readme = replace_readme_block("intro\n<!-- claims:begin -->\nstale\n<!-- claims:end -->\nrest\n", summary)
    assert readme.startswith("intro\n") and readme.endswith("\nrest\n") and "stale" not in readme
    assert "| C8 text-only training is cheaper than audio-supervised training | reproduced (this machine) |" in readme
    assert "| C1 text-only MATS is far above chance on zero-shot audio tasks | not run |" in readme
    with pytest.raises(ValueError, match="claims:begin"):
        replace_readme_block("a README without the block", summary)


def test_encoders_and_data_reports_label_sets_corpus_and_ceilings(tmp_path, monkeypatch):
    execute("encoders_and_data.ipynb", {"preset": "smoke", "encoders": "tagclap"}, tmp_path, monkeypatch)
    report = json.loads((tmp_path / "reports" / "smoke" / "encoders_and_data.json").read_text())
    vocal = next(r for r in report["label_sets"] if r["task"] == "cls_vocal")
    assert vocal["majority_rate"] > 0.5 and vocal["balanced_chance"] == 1 / vocal["eval_classes_present"]
    assert abs(sum(r["share_of_steps"] for r in report["corpus_sources"]) - 1) < 1e-9
    animals = next(r for r in report["zero_shot"]["tagclap"] if r["task"] == "cls_animals")
    assert animals["balanced_accuracy"] > animals["balanced_chance"]  # tagclap names most animals (docs/encoders.md: 8/10)


@pytest.mark.parametrize("name,parameters,problem", [
    ("train_mats.ipynb", {"preset": "smoke", "seed": "abc"}, "seed: expected int, got str 'abc'"),
    ("ablation_lambda.ipynb", {"preset": "smoke", "lambdas": "0,high"}, "cannot read '0,high' as a comma-separated list"),
])
def test_a_parameter_of_the_wrong_type_stops_the_notebook_with_its_name(name, parameters, problem, tmp_path,
                                                                        monkeypatch):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="ConfigError") as info:
        execute(name, parameters, tmp_path, monkeypatch)
    assert problem in str(info.value)
    assert not (tmp_path / "reports" / "smoke").exists()  # nothing written half-way


def check_declared_verdicts_recompute_from_the_committed_inputs(reports, monkeypatch):
    """The declared tests' numbers come from the per-item tables alone: each primary recomputed here by hand from
    the table's rows and the declaration matches the summary's, and a copy of the folder holding only what is
    committed (JSON reports and item tables; no run, no evaluation part) gives the same summary."""
    import csv
    import gzip
    import shutil

    import numpy as np

    from mats_lib.analysis import declaration
    from mats_lib.cli.summary import write_summary
    from mats_lib.stats import TaskScores, paired_difference

    monkeypatch.setenv("MATS_REPORTS_DIR", str(reports))
    write_summary("smoke")
    summary = json.loads((reports / "smoke" / "summary.json").read_text())
    assert summary["declaration"]["path"] == "mats_lib/analysis/claims.yaml"
    declared = declaration.load()
    with gzip.open(reports / "smoke" / "items-benchmark_tables.csv.gz", "rt") as f:
        rows = list(csv.DictReader(f))
    for name in ("C1a", "C2a", "C7"):
        test = declared["tests"][name]
        p = test["primary"]

        def scores(condition):
            out = {}
            for task in sorted({r["task"] for r in rows if r["condition"] == condition and r["kind"] == p["kind"]}):
                mine = sorted((r for r in rows if r["condition"] == condition and r["task"] == task),
                              key=lambda r: (int(r["training_seed"]), int(r["item"])))
                seeds = sorted({int(r["training_seed"]) for r in mine})
                values = np.array([[float(r["score"]) for r in mine if int(r["training_seed"]) == s] for s in seeds])
                labels = [r["reference"] for r in mine if int(r["training_seed"]) == seeds[0]]
                out[task] = TaskScores(values, labels if p["kind"] == "classification" else None)
            return out

        a, b = scores(p["a"]), scores(p["b"])
        common = sorted(set(a) & set(b))
        by_hand = paired_difference({t: a[t] for t in common}, {t: b[t] for t in common},
                                    resamples=declared["defaults"]["resamples"], seed=declared["defaults"]["seed"],
                                    pooling=declared["defaults"]["pooling"], min_items=declaration.min_items("smoke"))
        [row] = [r for r in summary["claims"][test["claim"]] if r["test"] == name]
        assert row["primary"] == declaration.describe(p)
        assert row["intervals"][p["b"]]["value"] == pytest.approx(by_hand.value)
        assert row["intervals"][p["b"]]["ci95"] == pytest.approx([by_hand.low, by_hand.high])
    committed = reports.parent / "committed" / "smoke"
    committed.mkdir(parents=True)
    for path in (reports / "smoke").iterdir():
        if path.suffix == ".json" and path.name != "summary.json" or path.name.endswith(".csv.gz"):
            shutil.copy(path, committed / path.name)
    monkeypatch.setenv("MATS_REPORTS_DIR", str(committed.parent))
    write_summary("smoke")
    again = json.loads((committed / "summary.json").read_text())
    assert again == summary
