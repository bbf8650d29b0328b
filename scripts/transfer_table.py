"""The modality-transfer table: raw / noise / memory / Santa (text-only MATS) and MATS-Audio, per encoder and seed.

    python scripts/transfer_table.py --encoders tagclap miniclap --seeds 0 1 [--max-items N]   # `make transfer-table`

Needs the trained runs build/runs/mini-{text,audio}-<encoder>-seed<S> (`make train SEED=S ENCODER=E`,
`make train-audio SEED=S ENCODER=E`). Evaluations are resumable and cached under reports/eval/. Writes
reports/transfer_table.md and .json: pooled cells (mean [95% bootstrap CI over items]) and, because the
pooled classification mixes label sets of 3 to 165 classes, each classification task beside its chance.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mats_lib.evaluation import EvalSettings, evaluate_run, pooled
from mats_lib.paths import REPO_ROOT
from mats_lib.tracking import EvalTracker

ENCODER_SETTING = {"tagclap": "tagclap (YAMNet + MiniLM, training-free, 384-d)",
                   "miniclap": "miniclap (tagclap + contrastive heads trained on the audio-train split, 768-d)"}

COLUMNS = (("classification", "classification accuracy"), ("caption", "captioning CIDEr-D"), ("qa", "QA accuracy"))


def cell(summary: dict | None) -> str:
    if summary is None:
        return "not run"
    return f"{summary['value']:.3f} [{summary['ci95'][0]:.3f}, {summary['ci95'][1]:.3f}]"


def evaluate(run: Path, transfers: tuple[str, ...], settings: EvalSettings) -> dict:
    if not run.exists():
        raise SystemExit(f"missing trained run {run}: train it first (make train / make train-audio with SEED=...)")
    settings = EvalSettings(**{**settings.__dict__, "transfers": transfers})
    with EvalTracker("mats-eval", f"eval-{run.name}", {"run": str(run)}) as tracker:
        return evaluate_run(run, REPO_ROOT / "reports" / "eval" / run.name, settings, tracker=tracker)


def classification_tasks(results: dict) -> list[str]:
    return sorted(task for task, m in results.items() if m["kind"] == "classification")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["tagclap"], choices=sorted(ENCODER_SETTING))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--max-items", type=int, default=None)
    parser.add_argument("--beams", type=int, default=4, help="beam width (the paper: 4)")
    parser.add_argument("--runs", default="build/runs")
    parser.add_argument("--allow-missing-audio", action="store_true",
                        help="write the table without the MATS-Audio row when that run is absent")
    args = parser.parse_args()
    settings = EvalSettings(max_items=args.max_items, num_beams=args.beams)
    command = (f"python scripts/transfer_table.py --encoders {' '.join(args.encoders)} "
               f"--seeds {' '.join(map(str, args.seeds))}" + (f" --max-items {args.max_items}" if args.max_items else "")
               + f" --beams {args.beams}" + (" --allow-missing-audio" if args.allow_missing_audio else ""))
    lines, table = ["# Modality transfers on MiniAudio (eval part)", ""], {}
    lines.append("Setting: a stand-in CLAP (below) + SmolLM2-135M with LoRA, mini preset "
                 "(not the paper's MS-CLAP + Vicuna-7B). Cells: mean [95% bootstrap CI over items]. "
                 f"Command: `{command}`"
                 + (f"; a seeded random subset of at most {args.max_items} items per task" if args.max_items else "")
                 + (" and greedy decoding (the paper: beam 4), to fit a 2-core CPU" if args.beams == 1 else "") + ".")
    runs = Path(args.runs)
    for encoder in args.encoders:
        for seed in args.seeds:
            text = evaluate(REPO_ROOT / runs / f"mini-text-{encoder}-seed{seed}", settings.transfers, settings)
            rows = {t: text[t] for t in settings.transfers}
            audio_run = REPO_ROOT / runs / f"mini-audio-{encoder}-seed{seed}"
            if audio_run.exists() or not args.allow_missing_audio:
                rows["MATS-Audio (raw)"] = evaluate(audio_run, ("raw",), settings)["raw"]
            else:
                rows["MATS-Audio (raw)"] = {}  # reported as "not run"
            key = f"{encoder}/seed{seed}"
            table[key] = {name: {kind: pooled(res, kind, seed) for kind, _ in COLUMNS} for name, res in rows.items()}
            lines += ["", f"## {ENCODER_SETTING[encoder]}, training seed {seed}", "",
                      "| transfer | " + " | ".join(c for _, c in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
            for name, summaries in table[key].items():
                lines.append(f"| {name} | " + " | ".join(cell(summaries[kind]) for kind, _ in COLUMNS) + " |")
            chance = table[key]["raw"]["classification"]["chance"]
            n = {kind: table[key]["raw"][kind]["n"] for kind, _ in COLUMNS if table[key]["raw"][kind]}
            lines.append(f"| chance | {chance:.3f} | - | - |")
            lines.append(f"\nItems: {n}. Classification chance = mean over clips of 1/(size of the clip's label set).")
            # per classification task: accuracy beside chance (the pooled cell mixes very different label sets)
            tasks = classification_tasks(rows["raw"])
            lines += ["", "Classification accuracy per task (chance = 1/number of classes):", "",
                      "| transfer | " + " | ".join(f"{t[4:]} (n={rows['raw'][t]['n']})" for t in tasks) + " |",
                      "|---|" + "---|" * len(tasks)]
            for name, res in rows.items():
                lines.append(f"| {name} | " + " | ".join(f"{res[t]['value']:.3f}" if t in res else "not run" for t in tasks) + " |")
            lines.append("| chance | " + " | ".join(f"{rows['raw'][t]['chance']:.3f}" for t in tasks) + " |")
            table[key]["per_task"] = {name: {t: res[t]["value"] for t in tasks if t in res} for name, res in rows.items()}
    out = REPO_ROOT / "reports" / "transfer_table.md"
    out.write_text("\n".join(lines) + "\n")
    (out.with_suffix(".json")).write_text(json.dumps(table, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
