"""Command line of ``mats_lib.study.bench``: `make bench`: the speed figures the README quotes, measured side by side
in one run and kept in ``reports/bench.json`` beside the previous figures, with a warning for every ratio that
moved the wrong way by more than 20%.

    python -m mats_lib.study.bench --preset mini --encoder tagclap [--steps 25 --warmup 5]

mats_lib.study.bench's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import reports_dir
from ..study.bench import run_bench, write_bench


def main(argv: list[str] | None = None) -> None:
    from ..study import ensure_run, run_config

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
