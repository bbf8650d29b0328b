"""What a notebook will train before it trains: each run it needs, whether its key finds it finished (reused),
unfinished (resumed) or absent or stale (trained), and the estimated time of the training left.

The estimate divides the samples left by the training throughput the preset's efficiency report measured
(``reports/<preset>/efficiency.json``, text or audio supervision), on the machine and in the precision it names; another
machine or precision runs at another speed, so the plan says where the number comes from.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..config import Config
from ..paths import reports_dir

ACTIONS = {"reuse": "finished with this key: reused", "resume": "unfinished with this key: resumed",
           "replace": "another key (stale): set aside, trained again", "train": "absent: trained"}


def measured_speed(preset: str) -> dict | None:
    """The committed training throughput of ``preset`` (samples/s per supervision, with its precision), or None."""
    path = reports_dir(preset) / "efficiency.json"
    if not path.is_file():
        return None
    training = json.loads(path.read_text()).get("training", {})
    if not training.get("text_samples_per_s"):
        return None
    return {"text": training["text_samples_per_s"], "audio": training.get("audio_samples_per_s"),
            "dtype": training.get("llm_dtype", "not recorded"), "source": str(path)}


def _checkpoint_step(checkpoint: Path) -> int:
    from ..checkpoints import load_torch_state

    return int(load_torch_state(checkpoint / "state.pt", "training state")["step"])


def plan_runs(cfgs: list[Config]) -> list[dict]:
    """One row per run: its name, what training will do with it, the steps left and their estimated minutes."""
    from ..encoders import encoder_from_config
    from ..runs import run_dir, run_name, run_state, training_key

    fingerprints: dict[str, str] = {}
    speeds = {preset: measured_speed(preset) for preset in {cfg.preset for cfg in cfgs}}  # one read per preset
    rows = []
    for cfg in cfgs:
        which = json.dumps([cfg.encoder.name, cfg.encoder.checkpoint, cfg.encoder.pooling], default=str)
        if which not in fingerprints:
            fingerprints[which] = encoder_from_config(cfg.encoder, progress=False).fingerprint()
        action, checkpoint = run_state(run_dir(cfg), training_key(cfg, fingerprints[which])["key"])
        done = cfg.train.max_steps if action == "reuse" else _checkpoint_step(checkpoint) if action == "resume" else 0
        left = cfg.train.max_steps - done
        speed = speeds[cfg.preset]
        per_s = speed and speed.get("audio" if cfg.data.modality == "audio" else "text")
        samples = left * cfg.train.batch_size * cfg.train.grad_accum
        rows.append({"run": run_name(cfg), "action": action, "steps_left": left,
                     "minutes": round(samples / per_s / 60, 1) if per_s and left else (0.0 if not left else None)})
    return rows


def format_plan(rows: list[dict], preset: str, train_missing: bool) -> str:
    speed = measured_speed(preset)
    lines = [f"plan: {len(rows)} run(s); {'missing ones are trained' if train_missing else 'nothing is trained'}"]
    for row in rows:
        cost = ("" if row["action"] == "reuse" else
                f", {row['steps_left']} steps, ~{row['minutes']} min" if row["minutes"] is not None else
                f", {row['steps_left']} steps, time not estimated")
        lines.append(f"  {row['run']}: {ACTIONS[row['action']]}{cost}")
    todo = [r for r in rows if r["action"] != "reuse"]
    if todo and train_missing:
        known = [r["minutes"] for r in todo if r["minutes"] is not None]
        lines.append(f"  to train: {len(todo)} run(s), ~{sum(known):.0f} min in all" if speed else
                     f"  to train: {len(todo)} run(s); no measured speed for preset {preset} (`make efficiency`)")
        if speed:
            lines.append(f"  (estimated from {speed['text']:.2f} text samples/s in {speed['dtype']}, "
                         f"{Path(speed['source']).name} of preset {preset}; another machine or precision differs)")
    elif todo:
        lines.append(f"  {len(todo)} run(s) not trained (train_missing=False): the notebook stops at the first")
    return "\n".join(lines)


def ensure_runs(cfgs: list[Config], train_missing: bool = True, progress: bool = True) -> list[Path]:
    """Print the plan, then the folder of each run (trained where missing, as :func:`mats_lib.study.ensure_run`)."""
    from . import ensure_run

    if cfgs:
        print(format_plan(plan_runs(cfgs), cfgs[0].preset, train_missing), flush=True)
    return [ensure_run(cfg, train_missing, progress) for cfg in cfgs]
