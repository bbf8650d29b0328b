"""The transfer comparison end to end on the smoke preset: runs of each kind, keyed parts, baselines, verdicts."""
import json

import pytest

from mats_lib.study.transfer_table import build
from mats_lib.analysis.transfer_table import CONDITIONS, to_markdown
from mats_lib.runs import MissingRunError, run_config
from mats_lib.training import train


@pytest.fixture(scope="module")
def smoke_matrix(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("matrix")
    os.environ["MATS_CACHE_DIR"] = str(folder / "cache")
    overrides = {"train.output_dir": str(folder / "runs"), "tracking.enabled": False, "train.max_steps": 2}
    for kind in ("text", "nonoise", "audio"):
        for seed in (0, 1):
            train(run_config("smoke", "tagclap", seed, kind, overrides), progress=False)
    yield folder, overrides
    os.environ.pop("MATS_CACHE_DIR")


def test_table_has_every_condition_with_baselines_and_paired_verdicts(smoke_matrix):
    folder, overrides = smoke_matrix
    table = build("smoke", ["tagclap"], [0, 1], list(CONDITIONS), overrides=overrides, out_root=folder / "eval",
                  progress=False, command="pytest")
    t = table["encoders"]["tagclap"]
    assert set(t["conditions"]) == set(CONDITIONS) and t["missing"] == []
    for condition, cells in t["conditions"].items():
        for kind in ("classification", "caption", "qa"):
            low, high = cells[kind]["ci95"]
            assert low <= cells[kind]["value"] <= high and cells[kind]["training_seeds"] == 2
        assert t["versus_constant"][condition]["classification"]["verdict"] in ("better", "worse", "not distinguishable")
    assert "noise" not in t["differences"] and set(t["differences"]) == set(CONDITIONS) - {"noise"}
    assert t["baselines"]["classification"]["value"] == pytest.approx(
        sum(b["balanced_chance"] for task, b in t["task_baselines"].items() if task.startswith("cls_")) / 2)
    assert t["task_baselines"]["cls_vocal"]["majority_rate"] > 0
    assert "prior" in t["baseline_notes"]["qa_scenes"] and "caption" in t["baseline_notes"]["caption_scenes"]
    # raw and noise come from two different runs: their plain parts have different keys
    assert t["keys"]["raw"]["0"]["cls_animals"] != t["keys"]["noise"]["0"]["cls_animals"]
    assert len(t["keys"]["santa"]["0"]["cls_animals"]) == 1  # smoke evaluates one evaluation seed
    markdown = to_markdown(table)
    assert "| santa | noise |" in markdown and "balanced accuracy" in markdown
    # the report file is written from the table in memory, a reader re-renders it from the JSON (keys sorted)
    assert to_markdown(json.loads(json.dumps(table, sort_keys=True))) == markdown
    again = build("smoke", ["tagclap"], [0, 1], list(CONDITIONS), overrides=overrides, out_root=folder / "eval",
                  progress=False, command="pytest")
    assert again["encoders"] == table["encoders"]  # every part reused under its key: same numbers


def test_a_missing_run_names_its_make_target(smoke_matrix):
    folder, overrides = smoke_matrix
    with pytest.raises(MissingRunError, match="make train-audio PRESET=smoke SEED=5 ENCODER=tagclap"):
        build("smoke", ["tagclap"], [5], ["MATS-Audio"], overrides=overrides, out_root=folder / "eval", progress=False)
    partial = build("smoke", ["tagclap"], [0, 5], ["noise", "MATS-Audio"], overrides=overrides,
                    out_root=folder / "eval", progress=False, allow_missing=True)
    assert partial["encoders"]["tagclap"]["missing"] == ["noise", "MATS-Audio"]
    assert "not run" in to_markdown(partial)


def test_a_caption_task_whose_references_were_training_answers_is_refused_with_its_reason(monkeypatch):
    """MATS-Audio trains on the audio-train scenes' captions; an eval reference among them makes the caption
    task not zero-shot for that run: refused (with the guard's message), never silently scored."""
    from mats_lib.study import transfer_table
    from mats_lib.config import load_config, resolve_path
    from mats_lib.evaluation import task_records

    cfg = load_config("smoke", {"data.modality": "audio"})
    reference = task_records(resolve_path(cfg.data.audio_root, "x"), "caption_scenes", cfg)[0]["output"]
    monkeypatch.setattr(transfer_table, "training_texts", lambda cfg: ["an unrelated caption", reference])
    refused = transfer_table.refused_tasks(cfg)
    assert list(refused) == ["caption_scenes"] and "not be zero-shot" in refused["caption_scenes"]
    monkeypatch.setattr(transfer_table, "training_texts", lambda cfg: ["an unrelated caption"])
    assert transfer_table.refused_tasks(cfg) == {}
