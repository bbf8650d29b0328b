"""The per-item table's rows from evaluated parts and constant baselines (``analysis.item_table`` reads them).

A condition's rows come from its parts: one row per training seed, task and item, the score averaged over the
evaluation seeds, the prediction of the first. A baseline is a condition too (``constant``, ``question_prior``)
with one row per training seed, so that every comparison pairs the same rows.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from ..analysis import item_table
from ..config import Config
from ..data.tasks import get_task
from ..evaluation import items_root, task_records
from ..stats import TaskScores

BASELINE_CONDITION = {"classification": "constant", "caption": "constant", "qa": "question_prior"}


def condition_rows(encoder: str, condition: str, per_seed: dict) -> list[dict]:
    """Rows of one condition from ``{training seed: {task: [part metrics per evaluation seed]}}``."""
    rows = []
    for seed, tasks in sorted(per_seed.items()):
        for task, parts in sorted(tasks.items()):
            first = parts[0]
            if "items" not in first:  # mAP and judged tasks have no per-item score
                continue
            scores = np.mean([p["items"] for p in parts], axis=0)
            for i, (audio_id, reference, prediction, score) in enumerate(
                    zip(first["ids"], first["references"], first["predictions"], scores)):
                rows.append({"encoder": encoder, "condition": condition, "training_seed": int(seed), "task": task,
                             "kind": first["kind"], "item": i, "audio_id": audio_id, "reference": reference,
                             "score": float(score), "prediction": prediction})
    return rows


def baseline_rows(cfg: Config, encoder: str, seeds: list[int], constant: dict[str, TaskScores], meta: dict) -> list[dict]:
    """Rows of the constant baselines (the items as the conditions saw them), one per training seed."""
    root = items_root(cfg, cfg)
    rows = []
    for task, scores in sorted(constant.items()):
        kind = get_task(task).kind
        records = task_records(root, task, cfg)
        references = [r["output"] for r in records]
        answer = (_majority(references) if kind == "classification"
                  else meta.get(task, {}).get("caption", "(the question-only prior's answer)"))
        for seed_index, seed in enumerate(seeds):
            for i, (record, score) in enumerate(zip(records, scores.values[seed_index])):
                rows.append({"encoder": encoder, "condition": BASELINE_CONDITION[kind], "training_seed": int(seed),
                             "task": task, "kind": kind, "item": i, "audio_id": record["audio_id"],
                             "reference": record["output"], "score": float(score), "prediction": answer})
    return rows


def write_item_table(path: Path, rows: list[dict]) -> Path:
    """Rows sorted by their identity, as gzipped CSV (gzip's mtime fixed at 0: equal rows, equal bytes)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, item_table.COLUMNS, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    key = lambda r: (r["encoder"], r["condition"], int(r["training_seed"]), r["task"], int(r["item"]))  # noqa: E731
    for row in sorted(rows, key=key):
        writer.writerow({c: (f"{row[c]:.6g}" if c == "score" else row[c]) for c in item_table.COLUMNS})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(text.getvalue().encode())
    tmp.replace(path)
    return path


def _majority(labels: list[str]) -> str:
    """The constant answer ``baselines.constant_answer_items`` scores (ties: the first in sorted order)."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return str(values[counts.argmax()])


def write_items(preset: str, source: str, rows: list[dict], folder: Path | None = None) -> Path:
    """<report folder>/items-<source>.csv.gz."""
    from . import report_folder

    return write_item_table((folder or report_folder(preset)) / item_table.FILENAME.format(source=source), rows)
