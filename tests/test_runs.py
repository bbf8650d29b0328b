"""Run folders named by their settings, keys that change with every input, reuse only under the same key."""
import json
import subprocess


from mats_lib.config import load_config
from mats_lib.paths import REPO_ROOT
from mats_lib.runs import data_fingerprint, run_name, training_key
from mats_lib.training import train


def test_runs_that_differ_from_the_preset_get_their_own_folders():
    names = {run_name(load_config("mini", overrides)) for overrides in
             ({}, {"data.noise_variance": 0.0}, {"train.max_steps": 500}, {"data.modality": "audio"}, {"seed": 1},
              {"encoder.name": "miniclap"})}
    assert len(names) == 6 and "mini-text-tagclap-seed0" in names
    assert "mini-text-tagclap-seed0-noise_variance=0.0" in names
    # two corpus variants sharing a long prefix get two folders, named by their file stems
    a, b = (run_name(load_config("mini", {"data.corpus": f"build/data/audiotia_mini/sources-tia_class_description_x{k}.json"}))
            for k in (3, 5))
    assert a != b and "corpus=sources_tia_cla~" in a
    # two corpora with the same file name in different folders (hold-out variants) get two folders too
    held = {run_name(load_config("mini", {"data.corpus": f"build/data/audiotia_mini/without-{t}/sources.json"}))
            for t in ("cls_synth", "cls_animals")}
    assert len(held) == 2 and all("corpus=sources~" in n for n in held)
    # inference settings are not training settings: same run
    assert run_name(load_config("mini", {"santa.lam": 0.9, "decoding.num_beams": 4})) == "mini-text-tagclap-seed0"


def test_every_input_changes_the_training_key(tmp_path, monkeypatch):
    cfg = load_config("smoke")
    base = training_key(cfg, "encoder-a")["key"]
    assert training_key(load_config("smoke", {"train.lr": 0.01}), "encoder-a")["key"] != base
    assert training_key(cfg, "encoder-b")["key"] != base  # e.g. other miniclap heads
    assert training_key(load_config("smoke", {"train.log_every": 5}), "encoder-a")["key"] == base  # bookkeeping only
    # data: a copy of the corpus with one record changed
    corpus = REPO_ROOT / cfg.data.corpus
    copy = tmp_path / "corpus"
    copy.mkdir()
    for path in corpus.parent.glob("*"):
        (copy / path.name).write_bytes(path.read_bytes())
    other = load_config("smoke", {"data.corpus": str(copy / corpus.name)})
    assert data_fingerprint(other) == data_fingerprint(cfg)
    first = sorted(copy.glob("*.jsonl"))[0]
    first.write_text(first.read_text().replace("a", "b", 1))
    assert data_fingerprint(other) != data_fingerprint(cfg)
    # code: the training code key (tests/test_code_keys.py edits the code itself)
    import mats_lib.runs as runs

    before = training_key(cfg, "e")["key"]
    monkeypatch.setattr(runs, "code_key", lambda component: "edited")
    assert training_key(cfg, "e")["key"] != before


def test_a_finished_run_is_reused_and_a_stale_one_is_set_aside(tmp_path, tmp_cache):
    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), "tracking.enabled": False,
                                "train.max_steps": 2, "train.save_every": 2})
    first = train(cfg, progress=False)
    assert not first.reused and (first.run_dir / "final" / "key.json").exists()
    stored = json.loads((first.run_dir / "final" / "key.json").read_text())
    assert stored["key"] == first.key and "provenance" in stored
    again = train(cfg, progress=False)
    assert again.reused and again.key == first.key and again.losses == []
    key_file = first.run_dir / "final" / "key.json"
    key_file.write_text(json.dumps({**stored, "key": "another"}))  # as if data or code had changed since
    retrained = train(cfg, progress=False)
    assert not retrained.reused and len(retrained.losses) == 2 and retrained.losses == first.losses
    stale = list((tmp_path / "runs" / ".stale").iterdir())
    assert len(stale) == 1 and json.loads((stale[0] / "final" / "key.json").read_text())["key"] == "another"


def test_clean_runs_removes_everything_derived_from_runs(tmp_path):
    build, reports = tmp_path / "build", tmp_path / "reports"
    derived = [build / "runs" / "mini-text-tagclap-seed0" / "final" / "key.json",
               build / "eval" / "mini-text-tagclap-seed0" / "plain" / "cls_animals" / "k" / "metrics.json",
               reports / "eval" / "mini-text-tagclap-seed0" / "k" / "metrics.json",  # where parts lived before
               build / "cache" / "memory-tagclap-abc.safetensors"]
    kept = [build / "cache" / "tagclap-0123.sqlite", reports / "mini" / "transfer_table.json"]
    for path in derived + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    subprocess.run(["make", "--no-print-directory", "clean-runs", f"BUILD={build}", f"REPORTS={reports}"],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    assert not any(p.exists() for p in derived)
    assert not (build / "runs").exists() and not (build / "eval").exists() and not (reports / "eval").exists()
    assert all(p.exists() for p in kept)


def test_load_run_gives_the_model_its_config_and_its_noise_variance(tiny_run):
    import torch

    from mats_lib.runs import find_checkpoint, load_run

    loaded = load_run(tiny_run)
    checkpoint = find_checkpoint(tiny_run)
    assert loaded.checkpoint == checkpoint and loaded.config.preset == "smoke" and not loaded.model.training
    stored = torch.load(checkpoint / "state.pt", weights_only=True)["noise_variance"]
    assert loaded.noise_variance == float(stored) and loaded.noise_variance > 0  # smoke calibrates it ('auto')
