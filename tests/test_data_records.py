"""Record loaders: validation errors name file and line; skip mode counts; real-format fixtures load."""
import json

import numpy as np
import pytest

from mats_lib.data import RecordError, SourceSampler, iterate_batches, load_eval_records, load_train_records

GOOD = {"caption": "a dog barks", "output": "a dog barks", "task": "audiocaps"}


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("bad,problem", [
    ("{not json", "bad JSON"),
    ({"output": "x", "task": "audiocaps"}, "missing field 'caption'"),
    ({**GOOD, "task": "no_such_task"}, "unknown task 'no_such_task'"),
    ({**GOOD, "output": 3}, "field 'output' must be a string"),
    ({**GOOD, "caption": "  "}, "field 'caption' is empty"),
    ("[1, 2]", "must be a JSON object"),
])
def test_train_record_errors_name_file_and_line(tmp_path, bad, problem):
    path = write_jsonl(tmp_path / "train.jsonl", [GOOD, GOOD, bad, GOOD])
    with pytest.raises(RecordError) as info:
        load_train_records(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert problem in str(info.value)


def test_skip_mode_counts_bad_records(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [GOOD, "{oops", {**GOOD, "task": "zzz"}, GOOD])
    records, report = load_train_records(path, on_error="skip")
    assert len(records) == 2 and report.loaded == 2 and report.skipped == 2
    assert ":2:" in report.problems[0] and ":3:" in report.problems[1]


def test_eval_record_missing_audio(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    rows = [{"audio_id": "a.wav", "output": "dog", "task": "esc50"}, {"audio_id": "gone.wav", "output": "dog", "task": "esc50"}]
    path = write_jsonl(tmp_path / "eval.jsonl", rows)
    with pytest.raises(RecordError, match=r"eval.jsonl:2: audio file not found: .*gone.wav"):
        load_eval_records(path, tmp_path)


@pytest.mark.parametrize("audio_id", ["/etc/passwd", "../outside.wav", "clips/../../outside.wav", "~/a.wav"])
def test_an_audio_id_outside_the_data_root_is_refused(tmp_path, audio_id):
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "outside.wav").write_bytes(b"x")  # exists, so only the path check can refuse it
    rows = [{"audio_id": audio_id, "output": "dog", "task": "esc50"}]
    path = write_jsonl(tmp_path / "eval.jsonl", rows)
    with pytest.raises(RecordError, match=r"eval.jsonl:1: audio_id must be a path inside the data root"):
        load_eval_records(path, root)


def test_non_utf8_and_huge_lines_are_named(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"caption": "caf\xe9"}\n')
    with pytest.raises(RecordError, match=r"train.jsonl:2: not UTF-8 text \(byte 0xe9"):
        load_train_records(path)
    huge = {**GOOD, "caption": "x" * (2 << 20)}
    write_jsonl(path, [GOOD, huge, GOOD])
    with pytest.raises(RecordError, match=r"train.jsonl:2: line of 2,097,.* characters, over the 1,048,576"):
        load_train_records(path)
    records, report = load_train_records(path, on_error="skip")
    assert len(records) == 2 and report.skipped == 1


def test_audiotia5m_json_array_fixture(tmp_path):
    """AudioTIA-5M ships JSON arrays; item line numbers are reported from the array text."""
    items = [{"caption": "Birds chirp near a stream.", "output": "Birds chirp near a stream.", "task": "clotho"},
             {"caption": "A short dog bark, recorded outdoors.", "output": "dog", "task": "esc50",
              "instruction": "What sound event is this?"},
             {"caption": "A man talks while a car passes.", "output": "Yes", "task": "clotho_aqa",
              "instruction": "Is a vehicle heard?"}]
    path = tmp_path / "audiotia_part.json"
    path.write_text(json.dumps(items, indent=2))
    records, report = load_train_records(path)
    assert [r["task"] for r in records] == ["clotho", "esc50", "clotho_aqa"] and report.skipped == 0
    bad = items[:2] + [{"caption": "x", "task": "clotho"}]
    path.write_text(json.dumps(bad, indent=2))
    lines = path.read_text().splitlines()
    expected = next(i for i, l in enumerate(lines, 1) if '"caption": "x"' in l) - 1  # the item's opening brace
    with pytest.raises(RecordError, match=rf"audiotia_part.json:{expected}: missing field 'output'"):
        load_train_records(path)


def test_eval_records_keep_their_references_and_choices_and_check_them(tmp_path):
    """(ESC-50's reader moved to mats_lib.benchmarks with the other 15: tests/test_benchmarks.py.)"""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    path = tmp_path / "r.jsonl"
    good = {"audio_id": "a.wav", "output": "a dog barks", "task": "clotho", "references": ["a dog barks", "barking"]}
    path.write_text(json.dumps(good) + "\n")
    (record,), _ = load_eval_records(path, tmp_path)
    assert record["references"] == ["a dog barks", "barking"]
    for bad in ([], ["ok", ""], "a dog", [3]):
        path.write_text(json.dumps({**good, "references": bad}) + "\n")
        with pytest.raises(RecordError, match=r"r.jsonl:1: field 'references' must be a non-empty list"):
            load_eval_records(path, tmp_path)


def test_sampler_follows_ratios():
    sources = {"a": [{"i": i} for i in range(5)], "b": [{"i": i} for i in range(7)], "c": [{"i": 0}]}
    ratios = {"a": 300, "b": 40, "c": 20}
    sampler = SourceSampler(sources, ratios, np.random.default_rng(0))
    draws = [sampler.draw_source() for _ in range(20000)]
    for name, ratio in ratios.items():
        expected = ratio / sum(ratios.values())
        assert abs(draws.count(name) / len(draws) - expected) < 0.01, name


def test_sampler_batches_one_source_and_is_seeded():
    sources = {"a": [{"s": "a", "i": i} for i in range(10)], "b": [{"s": "b", "i": i} for i in range(10)]}
    run = lambda: [SourceSampler(sources, {"a": 1, "b": 1}, np.random.default_rng(5)).next_batch(4) for _ in range(1)]  # noqa: E731
    assert run() == run()
    sampler = SourceSampler(sources, {"a": 1, "b": 1}, np.random.default_rng(1))
    for _ in range(20):
        name, batch = sampler.next_batch(4)
        assert {r["s"] for r in batch} == {name}
    with pytest.raises(KeyError, match="unknown source"):
        SourceSampler(sources, {"zzz": 1}, np.random.default_rng(0))


def test_iterate_batches_is_a_seeded_permutation():
    records = list(range(10))
    batches = list(iterate_batches(records, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(sum(batches, [])) == records
    assert batches == list(iterate_batches(records, 4, np.random.default_rng(0)))
