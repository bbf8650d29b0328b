"""Corpus variants for the transfer levers: scaled source ratios, and the corpus without one label set."""
import json

import pytest

from mats_lib.data.records import load_train_records


def test_a_scaled_corpus_variant_points_at_the_same_files_with_scaled_ratios(tmp_path):
    from mats_lib.data.corpus_variants import scaled_manifest

    manifest = tmp_path / "sources.json"
    manifest.write_text(json.dumps({"a": {"file": "a.jsonl", "ratio": 40, "task": "a"},
                                    "b": {"file": "b.jsonl", "ratio": 50, "task": "b"}}))
    out = scaled_manifest(manifest, {"b": 3})
    assert out.name == "sources-b_x3.json"
    variant = json.loads(out.read_text())
    assert variant["a"] == {"file": "a.jsonl", "ratio": 40, "task": "a"} and variant["b"]["ratio"] == 150
    assert variant["b"]["file"] == "b.jsonl"
    with pytest.raises(KeyError, match="no source"):
        scaled_manifest(manifest, {"c": 2})
    with pytest.raises(ValueError, match="positive"):
        scaled_manifest(manifest, {"a": 0})


def test_a_held_out_corpus_drops_every_record_naming_a_label_of_the_set(tmp_path):
    from mats_lib.data.corpus_variants import held_out_corpus, mentions

    assert mentions("Two sirens wail", ["siren"]) and mentions("A DOG barks.", ["dog"])
    assert not mentions("A dogma is stated.", ["dog"]) and not mentions("a hotdog", ["dog"])
    rows = [{"caption": "A dog barks.", "output": "dog", "task": "tia_qa", "instruction": "What is it?"},
            {"caption": "Rain falls.", "output": "rain", "task": "tia_qa", "instruction": "Is there a dog in the recording?"},
            {"caption": "A cat meows.", "output": "cat", "task": "tia_qa", "instruction": "What is it?"}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "sources.json").write_text(json.dumps({"a": {"file": "a.jsonl", "ratio": 1, "task": "tia_qa", "records": 3}}))
    (tmp_path / "labels.json").write_text(json.dumps({"cls_pets": {"labels": ["dog"]}}))
    path = held_out_corpus(tmp_path / "sources.json", tmp_path / "labels.json", "cls_pets")
    manifest = json.loads(path.read_text())
    assert path.parent.name == "without-cls_pets"
    assert manifest["a"]["records"] == 1 and manifest["a"]["removed_for_held_out_labels"] == 2
    kept, _ = load_train_records(path.parent / "a.jsonl")
    assert [r["caption"] for r in kept] == ["A cat meows."]
    with pytest.raises(KeyError, match="no label set"):
        held_out_corpus(tmp_path / "sources.json", tmp_path / "labels.json", "cls_birds")
