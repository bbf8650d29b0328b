"""Inference and the evaluation runner on a tiny trained model: keyed parts, resume checks and guards."""
import json
import shutil
from dataclasses import replace

import pytest
import torch

from mats_lib.config import load_config
from mats_lib.evaluation import (EncoderMismatchError, StalePartError, ZeroShotError, evaluate_run, part_inputs,
                                 training_texts, zero_shot_guard)
from mats_lib.inference import Decoding, generate
from mats_lib.runs import evaluation_config, load_run
from mats_lib.provenance import settings_key
from mats_lib.runs import StaleRunError
from mats_lib.config import SantaConfig

TASKS = ["cls_animals", "caption_scenes", "qa_scenes"]


def settings(run, **overrides):
    return evaluation_config(run, {"eval.transfers": ["plain", "santa"], "eval.tasks": TASKS, **overrides})


def parts(folder, transfer, task):
    return sorted(p.name for p in (folder / transfer / task).iterdir() if p.is_dir())


@pytest.mark.parametrize("beams", [1, 4])
def test_batch_generation_equals_one_by_one(tiny_run, beams):
    model = load_run(tiny_run).model
    emb = torch.randn(3, 384, generator=torch.Generator().manual_seed(0))
    tasks = ["caption_scenes", "cls_animals", "qa_scenes"]
    questions = [None, None, "How many different sounds are there?"]
    decoding = Decoding(num_beams=beams, max_new_tokens=6)
    batched = generate(model, emb, tasks, questions, decoding)
    single = [generate(model, emb[i : i + 1], [tasks[i]], [questions[i]], decoding)[0] for i in range(3)]
    assert batched == single


def test_runner_writes_keyed_parts_with_baselines_and_is_deterministic(tiny_run, tmp_path):
    a = evaluate_run(tiny_run, settings(tiny_run), tmp_path / "a", progress=False)
    b = evaluate_run(tiny_run, settings(tiny_run), tmp_path / "b", progress=False)  # same settings, fresh folder
    for transfer in ("plain", "santa"):
        for task in TASKS:
            (key,) = parts(tmp_path / "a", transfer, task)
            assert parts(tmp_path / "b", transfer, task) == [key]
            part_a, part_b = tmp_path / "a" / transfer / task / key, tmp_path / "b" / transfer / task / key
            assert (part_a / "predictions.jsonl").read_text() == (part_b / "predictions.jsonl").read_text()
            metrics = json.loads((part_a / "metrics.json").read_text())
            assert metrics["key"] == key == settings_key(metrics["inputs"])
            assert {"git_revision", "packages", "machine"} <= set(metrics["provenance"])
            assert a[transfer][task][0]["value"] == b[transfer][task][0]["value"]
    cls = a["plain"]["cls_animals"][0]
    assert cls["metric"] == "balanced_accuracy" and len(cls["labels"]) == cls["n"] == len(cls["exact"])
    assert cls["balanced_chance"] == 1 / cls["classes_present"] and cls["chance"] == 1 / 10
    assert 0 <= cls["balanced_accuracy"] <= 1 and 0 < cls["majority_rate"] <= 1


def test_a_changed_setting_gets_its_own_part_and_is_computed(tiny_run, tmp_path):
    first = evaluate_run(tiny_run, settings(tiny_run, **{"santa.lam": 0.3}), tmp_path, progress=False)
    second = evaluate_run(tiny_run, settings(tiny_run, **{"santa.lam": 1.0}), tmp_path, progress=False)
    for task in TASKS:
        santa_parts = parts(tmp_path, "santa", task)
        assert len(santa_parts) == 2  # one per lambda, side by side
        assert first["santa"][task][0]["key"] != second["santa"][task][0]["key"]
        assert second["santa"][task][0]["inputs"]["santa"]["lam"] == 1.0
        assert first["santa"][task][0]["inputs"]["santa"]["lam"] == 0.3
        assert parts(tmp_path, "plain", task) == [first["plain"][task][0]["key"]]  # lambda does not touch plain
        assert second["plain"][task][0]["key"] == first["plain"][task][0]["key"]
    # the second santa part was computed under its own settings, not read from the first
    seen = {json.loads((tmp_path / "santa" / "cls_animals" / k / "metrics.json").read_text())["inputs"]["santa"]["lam"]
            for k in parts(tmp_path, "santa", "cls_animals")}
    assert seen == {0.3, 1.0}


def test_mean_shift_is_a_transfer_keyed_by_its_offset(tiny_run, tmp_path):
    quick = settings(tiny_run, **{"eval.transfers": ["plain", "mean_shift"], "eval.tasks": ["cls_animals"]})
    result = evaluate_run(tiny_run, quick, tmp_path, progress=False)
    shifted, plain = result["mean_shift"]["cls_animals"][0], result["plain"]["cls_animals"][0]
    offset = shifted["inputs"]["santa"]["offset"]
    assert offset["pairs"] > 0 and 0 < offset["norm"] < 2 and len(offset["sha256"]) == 64
    assert shifted["eval_seed"] == plain["eval_seed"] and shifted["key"] != plain["key"]
    assert len(shifted["exact"]) == len(plain["exact"])  # the same items, so the two are compared pairwise


def test_each_input_of_the_key_changes_it():
    cfg = load_config("smoke")
    base = dict(checkpoint_sha="c", run_key="r", encoder_fp="e", data_sha="d", santa=SantaConfig(noise_variance=0.015), settings=cfg)
    key = settings_key(part_inputs("santa", "cls_animals", 0, **base))
    variants = [
        part_inputs("santa", "cls_animals", 0, **{**base, "santa": replace(SantaConfig(noise_variance=0.015), lam=0.5)}),
        part_inputs("santa", "cls_animals", 0, **{**base, "settings": replace(cfg, decoding=replace(cfg.decoding, num_beams=4))}),
        part_inputs("santa", "cls_animals", 0, **{**base, "settings": replace(cfg, eval=replace(cfg.eval, max_items=7))}),
        part_inputs("santa", "cls_animals", 0, **{**base, "settings": replace(cfg, eval=replace(cfg.eval, subset_seed=3))}),
        part_inputs("santa", "cls_animals", 1, **base),  # evaluation seed (a stochastic transfer)
        part_inputs("santa", "cls_animals", 0, **{**base, "checkpoint_sha": "c2"}),
        part_inputs("santa", "cls_animals", 0, **{**base, "encoder_fp": "e2"}),
        part_inputs("santa", "cls_animals", 0, **{**base, "data_sha": "d2"}),
        part_inputs("santa", "cls_animals", 0, **{**base, "run_key": "r2"}),
        part_inputs("memory", "cls_animals", 0, **base),
        part_inputs("mean_shift", "cls_animals", 0, **base, offset={"pairs": 3, "sha256": "a"}),
        part_inputs("mean_shift", "cls_animals", 0, **base, offset={"pairs": 3, "sha256": "b"}),
        part_inputs("santa", "cls_animals", 0, **base, platform={"device": "cpu", "isa": ["avx2"], "llm_dtype": "torch.float32"}),
    ]
    keys = [settings_key(v) for v in variants]
    assert key not in keys and len(set(keys)) == len(keys)
    # a deterministic transfer does not depend on the evaluation seed or Santa's lambda
    plain = settings_key(part_inputs("plain", "cls_animals", 0, **base))
    assert plain == settings_key(part_inputs("plain", "cls_animals", 1, **{**base, "santa": replace(SantaConfig(noise_variance=0.015), lam=0.9)}))


def test_code_changes_change_the_key(monkeypatch):
    import mats_lib.evaluation as evaluation

    cfg = load_config("smoke")
    base = dict(checkpoint_sha="c", run_key="r", encoder_fp="e", data_sha="d", santa=SantaConfig(noise_variance=0.015), settings=cfg)
    before = settings_key(part_inputs("plain", "cls_animals", 0, **base))
    monkeypatch.setattr(evaluation, "code_key", lambda component: "edited")
    assert settings_key(part_inputs("plain", "cls_animals", 0, **base)) != before


def test_interrupted_part_resumes_and_a_mismatched_one_is_refused(tiny_run, tmp_path):
    quick = settings(tiny_run, **{"eval.transfers": ["santa"], "eval.tasks": ["cls_animals", "qa_scenes"]})
    full = evaluate_run(tiny_run, quick, tmp_path / "full", progress=False)
    evaluate_run(tiny_run, quick, tmp_path / "crashed", progress=False)
    (key,) = parts(tmp_path / "crashed", "santa", "qa_scenes")
    part = tmp_path / "crashed" / "santa" / "qa_scenes" / key
    lines = (part / "predictions.jsonl").read_text().splitlines()
    (part / "metrics.json").unlink()  # as if it crashed after the first batch and half a line
    (part / "predictions.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:10])
    (cls_key,) = parts(tmp_path / "crashed", "santa", "cls_animals")
    mtime = (tmp_path / "crashed" / "santa" / "cls_animals" / cls_key / "metrics.json").stat().st_mtime
    resumed = evaluate_run(tiny_run, quick, tmp_path / "crashed", progress=False)
    assert (part / "predictions.jsonl").read_text() == (tmp_path / "full" / "santa" / "qa_scenes" / key / "predictions.jsonl").read_text()
    assert resumed["santa"]["qa_scenes"][0]["value"] == full["santa"]["qa_scenes"][0]["value"]
    assert (tmp_path / "crashed" / "santa" / "cls_animals" / cls_key / "metrics.json").stat().st_mtime == mtime

    (part / "metrics.json").unlink()  # now a part whose rows are other items than the subset's
    rows = [json.loads(x) for x in lines]
    rows[0], rows[1] = rows[1], rows[0]
    (part / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    with pytest.raises(StalePartError, match=key):
        evaluate_run(tiny_run, quick, tmp_path / "crashed", progress=False)


def test_another_encoder_and_a_stale_run_are_refused(tiny_run, tmp_path):
    with pytest.raises(EncoderMismatchError, match="its own CLAP"):
        evaluate_run(tiny_run, settings(tiny_run, **{"encoder.pooling": "max"}), tmp_path, progress=False)
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    key_file = copy / "final" / "key.json"
    stored = json.loads(key_file.read_text())
    key_file.write_text(json.dumps({**stored, "key": "0" * 16, "data": "older data"}))
    with pytest.raises(StaleRunError, match="data"):
        evaluate_run(copy, settings(copy), tmp_path / "out", progress=False)


def test_zero_shot_guard_covers_text_and_audio_training():
    records = [{"audio_id": "x.wav", "output": "A dog barks, then a bell rings.", "task": "caption_scenes"}]
    with pytest.raises(ZeroShotError, match="refusing to evaluate"):
        zero_shot_guard(records, ["a bell rings then a dog barks"], "caption_scenes")  # same words, other order
    zero_shot_guard(records, ["a cat meows"], "caption_scenes")
    zero_shot_guard([{**records[0], "output": "dog", "task": "cls_animals"}], ["dog"], "cls_animals")  # labels may repeat
    audio_cfg = load_config("smoke", {"data.modality": "audio"})
    from mats_lib.config import resolve_path

    train_captions = [json.loads(line)["output"] for line in
                      (resolve_path(audio_cfg.data.audio_records, "x") / "caption_scenes.jsonl").read_text().splitlines()]
    assert set(train_captions) <= set(training_texts(audio_cfg))  # MATS-Audio's captions are guarded too


def test_evaluation_cli_logs_one_nested_run_per_part_with_its_settings(tiny_run, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from mats_lib.evaluate import main

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for lam in ("0.0", "1.0"):
        main([str(tiny_run), "--out", str(tmp_path / "eval"), "--set", "eval.transfers=[santa]",
              "--set", "eval.tasks=[cls_animals]", "--set", f"santa.lam={lam}", "--set", "tracking.enabled=true"])
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mats-smoke")
    runs = client.search_runs([experiment.experiment_id])
    parts = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parts) == 2 and len(runs) == 4
    assert sorted(r.data.params["santa.lam"] for r in parts) == ["0.0", "1.0"]
    for r in parts:
        assert {"decoding.num_beams", "eval.max_items", "santa.noise_variance", "part_key", "transfer"} <= set(r.data.params)
        assert "balanced_accuracy" in r.data.metrics and r.data.params["reused"] == "False"
    # the same evaluation again: its part is reused by key, and still logged as a child of the evaluation that reused it
    main([str(tiny_run), "--out", str(tmp_path / "eval"), "--set", "eval.transfers=[santa]",
          "--set", "eval.tasks=[cls_animals]", "--set", "santa.lam=1.0", "--set", "tracking.enabled=true"])
    again = [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    [reused] = [r for r in again if r.data.params["reused"] == "True"]
    first = next(r for r in parts if r.data.params["santa.lam"] == "1.0")
    assert reused.data.params["part_key"] == first.data.params["part_key"] and len(again) == 3
    assert reused.data.metrics["balanced_accuracy"] == first.data.metrics["balanced_accuracy"]


def test_memory_size_as_count_or_fraction():
    from mats_lib.evaluation import memory_size

    assert memory_size(SantaConfig(memory_size=5172, noise_variance=0.015), 60_000) == 5172
    assert memory_size(SantaConfig(memory_size=5172, noise_variance=0.015), 1000) == 1000  # capped at the corpus
    assert memory_size(SantaConfig(memory_fraction=0.001, noise_variance=0.015), 5_200_000) == 5200  # the paper's 0.1%
    assert memory_size(SantaConfig(memory_fraction=0.001, noise_variance=0.015), 100) == 1


def test_release_mix_uses_the_raw_audio_scale(tmp_cache):
    """santa.normalize_first=false: the audio side enters the mix at the backend's raw (pre-normalisation) norm."""
    import numpy as np

    from mats_lib.encoders import create_encoder

    encoder = create_encoder("tagclap", progress=False)
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * 2) / 16000)).astype(np.float32)
    norms = encoder.raw_audio_norms([wave])
    unit = encoder.embed_audio([wave])
    raw = encoder._embed_audio_batch([encoder.load_clip(wave)])
    np.testing.assert_allclose(norms, np.linalg.norm(raw, axis=1), rtol=1e-6)
    np.testing.assert_allclose(unit * norms[:, None], raw, rtol=1e-4, atol=1e-5)
    assert norms[0] > 1.5  # tagclap's raw vector is a sum of many weighted unit vectors: the quirk matters


def test_an_explicit_noise_variance_is_respected_and_null_is_the_runs_own():
    from mats_lib.evaluation import resolved_santa

    cfg = load_config("smoke")
    assert resolved_santa(cfg, 0.0036).noise_variance == 0.0036  # null: the run's training noise
    assert resolved_santa(cfg, 0.0).noise_variance == 0.0  # a no-noise run or MATS-Audio: none, not 0.015
    explicit = load_config("smoke", {"santa.noise_variance": 0.0})
    assert resolved_santa(explicit, 0.0036).noise_variance == 0.0  # Santa without its noise (the paper's 0.384 row)
    assert resolved_santa(load_config("smoke", {"santa.noise_variance": 0.015}), 0.0036).noise_variance == 0.015
