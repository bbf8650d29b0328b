"""Command line: evaluate a trained run under modality transfers, on the MiniAudio eval part or a paper benchmark.

    python -m mats_lib.evaluate build/runs/mini-text-tagclap-seed0
    python -m mats_lib.evaluate RUN --set eval.tasks=[caption_scenes] --set eval.max_items=20 --set santa.lam=0.5
    python -m mats_lib.evaluate RUN --benchmark esc50 --root /data/ESC-50-master     # every item, by default

A benchmark is read from its published layout (``mats_lib.benchmarks``), prepared under build/benchmarks/<name>/
and evaluated on all its items unless ``--set eval.max_items=N``; MMAU and AIR-Bench predictions are also written
in their own scorers' input formats beside the part (AIR-Bench's GPT-4 judge is not run here).

Settings are the run's own config (its santa / eval / decoding sections) with ``--set`` overrides, validated
like every config. Parts go to build/eval/<run name>/<transfer>/<task>/<key>/ and to MLflow (experiment
``mats-eval``: a parent run per evaluation, a nested run per part with every setting as a param). A part
whose key matches is reused; any other setting computes a new part beside it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config, parse_overrides
from ..evaluation import evaluate_run
from ..paths import eval_dir
from ..runs import evaluation_config
from ..tracking import EvalTracker, experiment_for


def result_line(transfer: str, task: str, m: dict) -> str:
    """One part, each metric beside the baseline it must beat: balanced accuracy beside any constant answer's
    (1 / classes present), accuracy beside the majority class's accuracy."""
    value = "-" if m["value"] is None else f"{m['value']:.3f}"
    if "balanced_chance" in m and m["metric"] == "balanced_accuracy":
        value += f" (constant answer {m['balanced_chance']:.3f})"
    extra = ""
    if "accuracy" in m and "majority_rate" in m:
        extra = f"; accuracy {m['accuracy']:.3f} (majority class {m['majority_rate']:.3f})"
    return f"{transfer:10s} seed {m['eval_seed']} {task:16s} {m['metric']:17s} {value}{extra} n={m['n']} key={m['key']}"


def print_results(results: dict) -> None:
    for transfer, tasks in results.items():
        for task, parts in tasks.items():
            for m in parts:
                print(result_line(transfer, task, m))


def read_line(bench, data_root: str) -> str:
    """What was read from the given root, beside the benchmark's nominal split: a partial copy says so."""
    import json

    prepared = json.loads((Path(data_root) / "prepared.json").read_text())
    absent = f", {prepared['missing']} listed but absent" if prepared["missing"] else ""
    return (f"{bench.name}: read {prepared['records']} items from {prepared['root']}{absent} (the benchmark's split: "
            f"{bench.split}); metric: {bench.metric}; prepared in {data_root}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override, e.g. santa.lam=0.5, eval.max_items=20, decoding.num_beams=4")
    parser.add_argument("--out", default=None, help="default build/eval/<run name>")
    parser.add_argument("--no-tracking", action="store_true")
    parser.add_argument("--benchmark", default=None, help="a paper benchmark by name (needs --root)")
    parser.add_argument("--root", default=None, help="the benchmark's folder as distributed")
    parser.add_argument("--allow-missing", action="store_true",
                        help="evaluate the clips present when the metadata lists some that are not on disk")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    bench = None
    if args.benchmark or args.root:
        if not (args.benchmark and args.root):
            parser.error("--benchmark and --root go together")
        from ..benchmarks import evaluation_overrides

        bench, bench_settings = evaluation_overrides(args.benchmark, args.root, allow_missing=args.allow_missing)
        overrides = {**bench_settings, **overrides}
        print(read_line(bench, bench_settings["eval.data_root"]))
    cfg = evaluation_config(args.run, overrides)
    name = Path(args.run).name + (f"-{bench.name}" if bench else "")
    out = Path(args.out) if args.out else eval_dir() / name
    if args.no_tracking or not cfg.tracking.enabled:
        results = evaluate_run(args.run, cfg, out)
    else:
        with EvalTracker(experiment_for(cfg.preset, cfg.tracking.experiment), f"eval-{name}", {"run": args.run, **cfg.inference_params()}) as tracker:
            results = evaluate_run(args.run, cfg, out, tracker=tracker)
    print_results(results)
    if bench is not None and bench.official_format:
        for path in write_official(bench, cfg, results, out):
            print(f"{bench.name} predictions in {bench.official_format}'s own format: {path}")


def write_official(bench, cfg: Config, results: dict, out: Path) -> list[Path]:
    """Each finished part's predictions in the benchmark's own scorer format, beside the part."""
    import json

    from ..benchmarks.outputs import WRITERS

    writer, filename = WRITERS[bench.official_format]
    # the prepared records as written (with each item's ``meta``); the runner validated this file
    rows = [json.loads(line) for line in (Path(cfg.eval.data_root) / "eval" / f"{bench.task}.jsonl").read_text().splitlines()
            if line]
    written = []
    for transfer, tasks in results.items():
        for part in tasks.get(bench.task, []):
            folder = out / transfer / bench.task / part["key"]  # the runner's part folder
            predictions = [json.loads(l) for l in (folder / "predictions.jsonl").read_text().splitlines() if l]
            written.append(writer(rows, predictions, folder / filename))
    return written


if __name__ == "__main__":
    main()
