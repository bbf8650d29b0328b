"""Inference and the evaluation runner on a tiny trained model."""
import json
from dataclasses import replace

import pytest
import torch

from mats_lib.config import load_config
from mats_lib.evaluation import EvalSettings, ZeroShotError, evaluate_run, zero_shot_guard
from mats_lib.inference import Decoding, generate, load_trained
from mats_lib.santa import SantaSettings
from mats_lib.training import train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("evalrun")
    os.environ["MATS_CACHE_DIR"] = str(folder / "cache")
    cfg = load_config("smoke", {"train.output_dir": str(folder / "runs"), "tracking.enabled": False,
                                "train.max_steps": 4})
    result = train(cfg, progress=False)
    yield result.run_dir
    os.environ.pop("MATS_CACHE_DIR")


def settings(**kw):
    base = EvalSettings(transfers=("raw", "santa"), tasks=("cls_animals", "caption_scenes", "qa_scenes"),
                        max_items=6, batch_size=4, num_beams=2, bootstrap_resamples=200,
                        santa=SantaSettings(clusters=8, retrieved=4), caption_metrics=("CIDEr-D", "SPICE"))
    return replace(base, **kw)


@pytest.mark.parametrize("beams", [1, 4])
def test_batch_generation_equals_one_by_one(tiny_run, beams):
    model, _ = load_trained(tiny_run)
    emb = torch.randn(3, 384, generator=torch.Generator().manual_seed(0))
    tasks = ["caption_scenes", "cls_animals", "qa_scenes"]
    questions = [None, None, "How many different sounds are there?"]
    decoding = Decoding(num_beams=beams, max_new_tokens=6)
    batched = generate(model, emb, tasks, questions, decoding)
    single = [generate(model, emb[i : i + 1], [tasks[i]], [questions[i]], decoding)[0] for i in range(3)]
    assert batched == single


def test_runner_writes_predictions_and_metrics_and_is_deterministic(tiny_run, tmp_path):
    a = evaluate_run(tiny_run, tmp_path / "a", settings(), progress=False)
    b = evaluate_run(tiny_run, tmp_path / "b", settings(), progress=False)  # same seed, fresh folder
    for transfer in ("raw", "santa"):
        for task in ("cls_animals", "caption_scenes", "qa_scenes"):
            part_a, part_b = tmp_path / "a" / transfer / task, tmp_path / "b" / transfer / task
            assert (part_a / "predictions.jsonl").read_text() == (part_b / "predictions.jsonl").read_text()
            assert a[transfer][task]["value"] == b[transfer][task]["value"]
            row = json.loads((part_a / "predictions.jsonl").read_text().splitlines()[0])
            assert set(row) == {"audio_id", "question", "prediction", "reference"}
    assert a["raw"]["caption_scenes"]["scores"]["SPICE"] == "unavailable"
    assert 0 <= a["raw"]["cls_animals"]["ci95"][0] <= a["raw"]["cls_animals"]["value"] <= a["raw"]["cls_animals"]["ci95"][1]


def test_interrupted_evaluation_resumes(tiny_run, tmp_path):
    quick = settings(transfers=("santa",), tasks=("cls_animals", "qa_scenes"))
    full = evaluate_run(tiny_run, tmp_path / "full", quick, progress=False)
    part = tmp_path / "crashed" / "santa" / "qa_scenes"
    evaluate_run(tiny_run, tmp_path / "crashed", quick, progress=False)
    lines = (part / "predictions.jsonl").read_text().splitlines()
    (part / "metrics.json").unlink()  # as if it crashed after the first batch and half a line
    (part / "predictions.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:10])
    mtime = (tmp_path / "crashed" / "santa" / "cls_animals" / "metrics.json").stat().st_mtime
    resumed = evaluate_run(tiny_run, tmp_path / "crashed", quick, progress=False)
    assert (part / "predictions.jsonl").read_text() == (tmp_path / "full" / "santa" / "qa_scenes" / "predictions.jsonl").read_text()
    assert resumed["santa"]["qa_scenes"]["value"] == full["santa"]["qa_scenes"]["value"]
    assert (tmp_path / "crashed" / "santa" / "cls_animals" / "metrics.json").stat().st_mtime == mtime  # not redone


def test_zero_shot_guard():
    records = [{"audio_id": "x.wav", "output": "A dog barks, then a bell rings.", "task": "caption_scenes"}]
    with pytest.raises(ZeroShotError, match="refusing to evaluate"):
        zero_shot_guard(records, ["a bell rings then a dog barks"], "caption_scenes")  # same words, other order
    zero_shot_guard(records, ["a cat meows"], "caption_scenes")
    zero_shot_guard([{**records[0], "output": "dog", "task": "cls_animals"}], ["dog"], "cls_animals")  # labels may repeat
