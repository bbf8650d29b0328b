"""Transfer levers on the smoke preset: missing runs are trained, each lever is compared on the same items."""
import pytest

from mats_lib.analysis.levers import TRANSFERS, lever_table, parse_lever, to_markdown


def test_parse_lever():
    assert parse_lever("today").overrides == {}
    lever = parse_lever("long=train.max_steps:750,data.noise_variance:0.015")
    assert lever.label == "long" and lever.overrides == {"train.max_steps": 750, "data.noise_variance": 0.015}
    assert parse_lever("n=data.noise_variance:auto").overrides == {"data.noise_variance": "auto"}
    for bad in ("=data.noise_variance:0.1", "x=data.noise_variance"):
        with pytest.raises(ValueError, match="lever"):
            parse_lever(bad)


def test_levers_train_what_is_missing_and_pair_against_the_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("MATS_CACHE_DIR", str(tmp_path / "cache"))
    common = f"train.output_dir:{tmp_path / 'runs'},tracking.enabled:false,train.max_steps:2"
    levers = [parse_lever(f"today={common}"), parse_lever(f"more_noise={common},data.noise_variance:0.05"),
              parse_lever(f"cold={common},santa.temperature:1")]  # an evaluation setting: today's runs, reused
    transfers = TRANSFERS + ("mean_shift",)
    table = lever_table("smoke", ["tagclap"], [0, 1], levers, out_root=tmp_path / "eval", progress=False,
                        transfers=transfers)
    t = table["encoders"]["tagclap"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        [f"smoke-text-tagclap-seed{s}{extra}-max_steps=2" for s in (0, 1) for extra in ("", "-noise_variance=0.05")])
    cold, today_keys = t["levers"]["cold"]["keys"], t["levers"]["today"]["keys"]
    assert cold["noise"] == today_keys["noise"] and cold["mean_shift"] == today_keys["mean_shift"]  # same parts
    assert cold["santa"]["0"]["cls_animals"] != today_keys["santa"]["0"]["cls_animals"]  # its own Santa parts
    assert table["transfers"] == list(transfers)
    shifted = t["levers"]["more_noise"]["mean_shift"]["versus_first_transfer"]  # mean_shift - noise, same runs
    assert shifted["items"] == {"cls_animals": 6, "cls_vocal": 6}
    assert t["levers"]["today"]["noise"]["versus_first_transfer"] is None
    for transfer in transfers:
        today, more = t["levers"]["today"][transfer], t["levers"]["more_noise"][transfer]
        # the reference against itself is exactly zero; the other lever is compared on the same items
        assert today["versus_reference"]["value"] == 0 and today["versus_reference"]["ci95"] == [0, 0]
        assert more["versus_reference"]["items"] == today["versus_reference"]["items"] == {"cls_animals": 6, "cls_vocal": 6}
        assert more["versus_reference"]["training_seeds"] == 2
        assert set(more["per_task"]) == {"cls_animals", "cls_vocal"}
        alone = more["per_task_versus_constant"]["cls_vocal"]  # one task's own paired verdict
        assert alone["items"] == {"cls_vocal": 6} and alone["verdict"] in ("better", "worse", "not distinguishable")
        assert more["efficiency"] == pytest.approx(more["pooled"]["value"] / t["encoder_zero_shot"]["pooled"]["value"])
        assert set(t["levers"]["more_noise"]["keys"][transfer]["1"]) == {"cls_animals", "cls_vocal"}
    assert 0 <= t["encoder_zero_shot"]["pooled"]["value"] <= 1
    text = to_markdown(table)
    assert "| more_noise |" in text and "santa.temperature=1 | mean_shift |" in text and "data.noise_variance=0.05" in text and "| encoder's zero-shot | - |" in text


def test_levers_on_different_tasks_are_refused_before_any_training(tmp_path):
    levers = [parse_lever("held_out=eval.tasks:[cls_synth]"), parse_lever("today")]
    with pytest.raises(ValueError, match="compared on the same tasks"):
        lever_table("smoke", ["tagclap"], [0], levers, out_root=tmp_path / "eval", progress=False)
    assert not (tmp_path / "eval").exists()
