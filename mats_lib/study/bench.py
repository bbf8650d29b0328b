"""`make bench`: the speed figures the README quotes, measured side by side in one run and kept in
``reports/bench.json`` beside the previous figures, with a warning for every ratio that moved the wrong way by
more than 20%.

    python -m mats_lib.study.bench --preset mini --encoder tagclap [--steps 25 --warmup 5]

Ratios, not seconds: both sides of each ratio run in the same process minutes apart, so a slower or busier
machine moves both. Still, run it on an idle machine (a second job on 2 cores slows everything ~6x). The
measurements are :mod:`mats_lib.study.efficiency`'s, the same ones the efficiency notebook shows.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..paths import reports_dir
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


def main(argv: list[str] | None = None) -> None:
    from . import ensure_run, run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--encoder", default="tagclap")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--n-embed", type=int, default=64)
    parser.add_argument("--n-generate", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="default: reports/bench.json (reports/<preset>/ "
                                                                 "for presets other than mini)")
    args = parser.parse_args(argv)
    run = ensure_run(run_config(args.preset, args.encoder, 0, "text"))
    result = run_bench(args.preset, args.encoder, run, args.steps, args.warmup, args.n_embed, args.n_generate)
    out = args.out or (reports_dir() if args.preset == "mini" else reports_dir(args.preset)) / "bench.json"
    warnings = write_bench(result, out)
    width = max(map(len, result["ratios"]))
    for name, value in result["ratios"].items():
        print(f"{name:<{width}}  {value:8.3g}x")
    print(f"training: {result['training']['text_samples_per_s']:.2f} samples/s, "
          f"{result['training']['train_tflops']:.3f} TFLOP/s of a {result['training']['llm_dtype']} matmul peak of "
          f"{result['training']['matmul_peak_tflops']:.3f}")
    for warning in warnings:
        print(f"WARNING: slower than the previous figures: {warning}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
