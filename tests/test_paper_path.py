"""The paper's code path at toy size: the paper preset (transformer mapper, prefix 40, the dataset tags) on a random
2-layer Llama, evaluated through `python -m mats_lib.evaluate RUN --benchmark NAME --root PATH` with beam search 4
on each of the 16 benchmarks laid out as its dataset ships it (tests/benchmark_layouts.py), and scored."""
import json

import pytest

from tests.benchmark_layouts import LAYOUTS
from mats_lib.benchmarks import BENCHMARKS, MissingAudioError
from mats_lib.benchmarks.outputs import WRITERS
from mats_lib.config import load_config
from mats_lib.evaluate import main as evaluate_main
from mats_lib.paths import data_dir
from mats_lib.training import train


def clips(n):
    root = data_dir() / "miniaudio"
    rows = [c for c in json.loads((root / "clips.json").read_text()) if c["split"] == "eval" and c["real"]][:n]
    return [root / c["clip_id"] for c in rows]


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("paper")
    os.environ["MATS_CACHE_DIR"] = str(folder / "cache")
    cfg = load_config("paper", {
        "encoder.name": "tagclap", "encoder.checkpoint": None, "llm.path": "tiny-random", "llm.dtype": "float32",
        "data.corpus": "build/data/audiotia_mini/sources.json", "data.max_records_per_source": 16,
        "data.audio_records": "build/data/miniaudio/train", "data.audio_root": "build/data/miniaudio",
        "train.max_steps": 2, "train.batch_size": 2, "train.grad_accum": 1, "train.warmup_steps": 1,
        "train.output_dir": str(folder / "runs"), "tracking.enabled": False})
    assert (cfg.mapper.kind, cfg.mapper.prefix_length) == ("transformer", 40)  # the paper's mapper
    yield train(cfg, progress=False).run_dir, folder
    os.environ.pop("MATS_CACHE_DIR")


def evaluate(run, name, root, out, *extra):
    evaluate_main([str(run), "--benchmark", name, "--root", str(root), "--no-tracking", "--out", str(out),
                   "--set", "decoding.num_beams=4", "--set", "eval.transfers=[plain]", "--set", "eval.seeds=[0]",
                   "--set", "decoding.max_new_tokens_classification=4", "--set", "decoding.max_new_tokens_caption=4",
                   "--set", "decoding.max_new_tokens_open=4", *extra])
    return out / "plain"


def metrics(folder, task):
    (part,) = [p for p in (folder / task).iterdir() if p.is_dir()]
    return json.loads((part / "metrics.json").read_text()), part


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_benchmark_is_read_evaluated_and_scored_by_one_command(paper_run, tmp_path, name, capsys):
    run, _ = paper_run
    LAYOUTS[name](tmp_path / name, clips(2))
    task = BENCHMARKS[name].task
    m, part = metrics(evaluate(run, name, tmp_path / name, tmp_path / "out"), task)
    printed = capsys.readouterr().out  # what was read (2 items, not the nominal split), each metric by its baseline
    assert f"{name}: read 2 items from {(tmp_path / name).resolve()} (the benchmark's split: " in printed
    if BENCHMARKS[name].kind == "classification":
        assert f"balanced_accuracy {m['value']:.3f} (constant answer {1 / m['classes_present']:.3f})" in printed
        assert f"; accuracy {m['accuracy']:.3f} (majority class {m['majority_rate']:.3f})" in printed
    rows = [json.loads(l) for l in (part / "predictions.jsonl").read_text().splitlines()]
    assert m["n"] == len(rows) == 2 and m["inputs"]["decoding"]["num_beams"] == 4
    assert {r["audio_id"] for r in rows} and all(r["audio_id"].startswith("data/") for r in rows)
    if BENCHMARKS[name].kind == "open":
        assert m["value"] is None and "judge" in m["metric"]  # AIR-Bench: its GPT-4 judge, not run here
    else:
        assert m["value"] is not None and 0 <= m["value"] <= 10
    if name == "dcase17":
        assert rows[0]["references"] == ["Train horn", "Car"]
    if name in ("audiocaps", "clotho"):
        assert m["metric"] == "CIDEr-D" and len(rows[0]["references"]) in (2, 5)
    if BENCHMARKS[name].official_format:
        own = part / WRITERS[BENCHMARKS[name].official_format][1]
        assert own.is_file() and own.stat().st_size > 0


def test_missing_audio_is_an_error_unless_allowed(paper_run, tmp_path):
    run, _ = paper_run
    LAYOUTS["esc50"](tmp_path / "esc", clips(2))
    (tmp_path / "esc" / "audio" / "1-2-A-1.wav").unlink()
    with pytest.raises(MissingAudioError, match=r"esc50: 1 clip\(s\) listed .* not on disk \(first: .*1-2-A-1.wav\)"):
        evaluate(run, "esc50", tmp_path / "esc", tmp_path / "out")
    m, _ = metrics(evaluate(run, "esc50", tmp_path / "esc", tmp_path / "out2", "--allow-missing"), "esc50")
    assert m["n"] == 1
