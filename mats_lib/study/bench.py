"""`make bench`: the speed figures the README quotes, measured side by side in one run and kept in
``reports/bench.json`` beside the previous figures, with a warning for every ratio that moved the wrong way by
more than 20%.

    python -m mats_lib.study.bench --preset mini --encoder tagclap [--steps 25 --warmup 5]

Ratios, not seconds: both sides of each ratio run in the same process minutes apart, so a slower or busier
machine moves both. Still, run it on an idle machine (a second job on 2 cores slows everything ~6x). The
measurements are :mod:`mats_lib.study.efficiency`'s, the same ones the efficiency notebook shows.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..provenance import provenance, write_json_atomic
from .efficiency import inference_costs, training_costs

# Which way is better for each speed ratio; the others (C8's cost ratios) are findings, not goals.
GOALS = {
    "training step / matmul peak in the training dtype": "higher",
    "cached / on-the-fly training throughput": "higher",
    "batched / one-by-one generation": "higher",
    "Santa share of inference": "lower",
    "exact / k-means retrieval time": "higher",
}
TOLERANCE = 0.20


def regressions(current: dict[str, float], previous: dict[str, float], tolerance: float = TOLERANCE) -> list[str]:
    """A warning for each goal ratio that moved the wrong way by more than ``tolerance`` (relative)."""
    warnings = []
    for name, better in GOALS.items():
        if name not in current or not previous.get(name):
            continue
        change = current[name] / previous[name] - 1
        worse = -change if better == "higher" else change
        if worse > tolerance:
            warnings.append(f"{name}: {previous[name]:.3g} -> {current[name]:.3g} ({change:+.0%}; "
                            f"{better} is better, tolerance {tolerance:.0%})")
    return warnings


def run_bench(preset: str, encoder: str, run: str | Path, steps: int, warmup: int, n_embed: int,
              n_generate: int) -> dict:
    training = training_costs(preset, steps, warmup, n_embed, {"encoder.name": encoder})
    inference = inference_costs(run, n_generate, batch=16)
    return {"preset": preset, "encoder": encoder, "run": str(run), "training": training, "inference": inference,
            "ratios": {**training["ratios"], **inference["ratios"]}}


def write_bench(result: dict, path: Path) -> list[str]:
    """Write the result beside the previous one (its ratios and provenance); returns the regression warnings."""
    previous = json.loads(path.read_text()) if path.is_file() else None
    before = previous["ratios"] if previous else {}
    warnings = regressions(result["ratios"], before)
    write_json_atomic(path, {**result, "warnings": warnings, "provenance": provenance(),
                             "previous": {"ratios": before, "provenance": previous.get("provenance")} if previous else None})
    return warnings


if __name__ == "__main__":  # the command lives in mats_lib.cli.bench
    from ..cli.bench import main

    main()
