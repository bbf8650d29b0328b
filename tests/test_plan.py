"""The plan a notebook prints before it trains: each run reused, resumed or trained by its key, with the time the
training left would take at the preset's measured speed."""
import json

from mats_lib.config import load_config
from mats_lib.runs import run_name
from mats_lib.study.plan import ensure_runs, format_plan, plan_runs
from mats_lib.training import train


def smoke(tmp_path, **overrides):
    return load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), "tracking.enabled": False,
                                 "train.max_steps": 2, **overrides})


def test_the_plan_names_what_each_run_needs_and_what_it_costs(tmp_path, tmp_cache, monkeypatch, capsys):
    reports = tmp_path / "reports"
    monkeypatch.setenv("MATS_REPORTS_DIR", str(reports))
    finished, unfinished, absent = smoke(tmp_path), smoke(tmp_path, seed=1), smoke(tmp_path, seed=2)
    train(finished, progress=False)
    train(unfinished, stop_at_step=1, progress=False)
    rows = plan_runs([finished, unfinished, absent])
    assert [(r["action"], r["steps_left"]) for r in rows] == [("reuse", 0), ("resume", 1), ("train", 2)]
    assert rows[1]["minutes"] is None  # no efficiency report for smoke: no estimate, and the plan says why
    text = format_plan(rows, "smoke", train_missing=True)
    assert "no measured speed for preset smoke (`make efficiency`)" in text and "to train: 2 run(s)" in text

    (reports / "smoke").mkdir(parents=True)  # a measured speed: 2 samples/s in float32
    (reports / "smoke" / "efficiency.json").write_text(json.dumps(
        {"training": {"text_samples_per_s": 2.0, "audio_samples_per_s": 1.0, "llm_dtype": "float32"}}))
    rows = plan_runs([finished, unfinished, absent])
    per_step = finished.train.batch_size * finished.train.grad_accum / 2.0 / 60  # minutes
    assert [r["minutes"] for r in rows] == [0.0, round(per_step, 1), round(2 * per_step, 1)]
    text = format_plan(rows, "smoke", train_missing=True)
    assert "from 2.00 text samples/s in float32, efficiency.json of preset smoke" in text
    assert f"{run_name(absent)}: absent: trained, 2 steps, ~{round(2 * per_step, 1)} min" in text

    stale = smoke(tmp_path, **{"train.lr": 0.5})  # the finished run's folder name is kept, its key is not
    assert plan_runs([stale])[0]["action"] in ("replace", "train")
    folders = ensure_runs([finished, unfinished], progress=False)  # the plan first, then the runs
    out = capsys.readouterr().out
    assert out.index("plan: 2 run(s)") < out.index("reused, nothing trained")
    assert all((f / "final" / "trainable.safetensors").exists() for f in folders)
