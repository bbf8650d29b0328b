"""The built mini data: sizes, zero-shot discipline, determinism, label rules."""
import json

import pytest

from mats_lib.data.audiotia import normalise, signature
from mats_lib.data.miniaudio import BenchmarkConfig
from mats_lib.data.build import build_all
from mats_lib.data.labels import file_label, noun_phrase, opensfx_label
from mats_lib.data.records import load_eval_records, load_train_records
from mats_lib.paths import data_dir


@pytest.fixture(scope="module")
def built():
    """The full build of `make data` (run by `make test` before the suite); built here if absent."""
    build_all(seed=0, verbose=False)
    return data_dir()


def test_label_rules():
    assert file_label("horse-canter-2.ogg") == "horse cantering"
    assert file_label("wolf-growl-3.ogg") == "wolf growling"
    assert opensfx_label('"Toyland: Comedy bus start (2)". By X. License: CC0') == "comedy bus start"
    assert noun_phrase("explosion") == "an explosion" and noun_phrase("birds") == "birds"
    assert noun_phrase("salsa music") == "salsa music" and noun_phrase("cow") == "a cow"


def test_benchmark_sizes(built):
    clips = json.loads((built / "miniaudio" / "clips.json").read_text())
    eval_real = [c for c in clips if c["split"] == "eval" and c["real"]]
    assert len(eval_real) >= 250
    assert len({(c["label_set"], c["label"]) for c in eval_real}) >= 20
    assert sum(c["split"] == "eval" for c in clips) > 2 * sum(c["split"] == "train" for c in clips)
    scenes = json.loads((built / "miniaudio" / "scenes.json").read_text())
    assert sum(s["split"] == "eval" for s in scenes) >= 150
    records, _ = load_eval_records(built / "miniaudio" / "eval" / "qa_scenes.jsonl", built / "miniaudio")
    assert len(records) >= 150


def test_corpus_size_and_tasks(built):
    sources = json.loads((built / "audiotia_mini" / "sources.json").read_text())
    total = 0
    for name, info in sources.items():
        records, report = load_train_records(built / "audiotia_mini" / info["file"])
        assert report.skipped == 0 and len(records) == info["records"] > 0
        total += len(records)
    assert total >= 20000 and len(sources) >= 5 and len({s["tag"] for s in sources.values()}) >= 5


def test_no_eval_caption_in_training_texts(built):
    """Zero-shot discipline: no eval caption, exactly or near-exactly (order/case/stop words), in training."""
    eval_captions = [s["caption"] for s in json.loads((built / "miniaudio" / "scenes.json").read_text())
                     if s["split"] == "eval"]
    exact, near = {normalise(t) for t in eval_captions}, {signature(t) for t in eval_captions}
    for path in sorted((built / "audiotia_mini").glob("*.jsonl")):
        records, _ = load_train_records(path)
        for r in records:
            assert normalise(r["caption"]) not in exact, (path.name, r["caption"])
            assert signature(r["caption"]) not in near, (path.name, r["caption"])


def test_no_eval_caption_in_audio_train_answers(built):
    """MATS-Audio trains on the audio-train records' answers: none may repeat an eval caption either."""
    eval_captions = [s["caption"] for s in json.loads((built / "miniaudio" / "scenes.json").read_text())
                     if s["split"] == "eval"]
    exact, near = {normalise(t) for t in eval_captions}, {signature(t) for t in eval_captions}
    records, _ = load_eval_records(built / "miniaudio" / "train" / "caption_scenes.jsonl", built / "miniaudio")
    assert records
    leaked = [r["output"] for r in records if normalise(r["output"]) in exact or signature(r["output"]) in near]
    assert not leaked, leaked[:3]
    counts = json.loads((built / "counts.json").read_text())
    assert counts["benchmark"]["train_captions_dropped_for_zero_shot"] >= 0


def test_eval_records_point_at_real_audio(built):
    for path in sorted((built / "miniaudio" / "eval").glob("*.jsonl")):
        records, report = load_eval_records(path, built / "miniaudio")
        assert report.skipped == 0 and records


def test_same_seed_same_bytes(tmp_path):
    small = dict(eval_scenes=12, train_scenes=6, synth_per_class=1, voices_per_class=1, speech_sample=4)
    options = {"descriptions_per_class": 2, "scene_captions": 100}
    for name in ("a", "b"):
        build_all(seed=3, root=tmp_path / name, verbose=False, benchmark=BenchmarkConfig(seed=3, **small),
                  corpus_options=options)
    manifest_a = (tmp_path / "a" / "manifest.json").read_bytes()
    assert manifest_a == (tmp_path / "b" / "manifest.json").read_bytes()
    build_all(seed=4, root=tmp_path / "c", verbose=False, benchmark=BenchmarkConfig(seed=4, **small),
              corpus_options=options)
    assert json.loads(manifest_a)["files"] != json.loads((tmp_path / "c" / "manifest.json").read_text())["files"]

