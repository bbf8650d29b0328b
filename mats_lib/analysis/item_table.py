"""The per-item table every comparison verdict is recomputed from (committed under ``reports/<preset>/``).

One row per (encoder, condition, training seed, task, item): the item's score (averaged over the evaluation
seeds), its reference and the prediction (of the first evaluation seed). The constant baselines are conditions
too (``constant``, ``question_prior``), one row per seed like the others, so every comparison is paired on the
same rows. Stored as gzipped CSV (``study.item_rows.write_item_table`` writes it); read, selected and compared here.
"""
from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..stats import TaskScores

COLUMNS = ("encoder", "condition", "training_seed", "task", "kind", "item", "audio_id", "reference", "score", "prediction")
FILENAME = "items-{source}.csv.gz"


class ItemTableError(ValueError):
    pass


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ItemTableError(f"{path}: columns {reader.fieldnames} are not the item table's {list(COLUMNS)}")
        rows = list(reader)
    for i, row in enumerate(rows):
        try:
            row["training_seed"], row["item"], row["score"] = int(row["training_seed"]), int(row["item"]), float(row["score"])
        except ValueError as error:
            raise ItemTableError(f"{path}: row {i + 2} is malformed ({error})") from None
    return rows


# The study's item tables: the transfer table's (MiniAudio; a paper benchmark's table has its own name and is
# never pooled with these) and each encoder's lambda sweep
STUDY_SOURCES = ("benchmark_tables", "ablation_lambda-*")


def study_files(folder: Path) -> list[Path]:
    return sorted(p for source in STUDY_SOURCES for p in folder.glob(FILENAME.format(source=source)))


def read_folder(folder: Path) -> list[dict]:
    """The study's item tables of a report folder, concatenated."""
    return [row for path in study_files(folder) for row in read(path)]


def scores(rows: list[dict], encoder: str, condition: str, kind: str) -> dict[str, TaskScores]:
    """{task: TaskScores [seeds, items]} of one condition; classification carries its labels (balanced accuracy)."""
    cells: dict[str, dict[int, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r["encoder"] == encoder and r["condition"] == condition and r["kind"] == kind:
            cells[r["task"]][r["training_seed"]][r["item"]] = r
    out = {}
    for task, by_seed in sorted(cells.items()):
        seeds = sorted(by_seed)
        items = sorted(by_seed[seeds[0]])
        if any(sorted(by_seed[s]) != items for s in seeds):
            raise ItemTableError(f"{encoder}/{condition}/{task}: the training seeds were scored on different items")
        values = np.array([[by_seed[s][i]["score"] for i in items] for s in seeds])
        labels = [by_seed[seeds[0]][i]["reference"] for i in items] if kind == "classification" else None
        out[task] = TaskScores(values, labels)
    return out


def conditions(rows: list[dict], encoder: str) -> list[str]:
    return sorted({r["condition"] for r in rows if r["encoder"] == encoder})


def encoders(rows: list[dict]) -> list[str]:
    return sorted({r["encoder"] for r in rows})


def top_answer_share(rows: list[dict], encoder: str, condition: str, kind: str) -> float | None:
    """The share of items (over seeds and tasks of ``kind``) that got the condition's most frequent answer in their
    task: near 1, the model says one thing to most clips, whatever its score."""
    by_task: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["encoder"] == encoder and r["condition"] == condition and r["kind"] == kind:
            by_task[(r["task"], r["training_seed"])].append(r["prediction"].strip().lower())
    if not by_task:
        return None
    top = sum(max(np.unique(answers, return_counts=True)[1]) for answers in by_task.values())
    return float(top / sum(len(a) for a in by_task.values()))


# ------------------------------------------------------------------------------------------ reproduction
# Two build histories may round a cached embedding differently and so flip a near-tie item (docs/robustness.md
# measured 6 of 3,654 item scores): a regenerated table agrees with the committed one when at most this share of
# the items it shares with it differ
FLIP_TOLERANCE = 0.005


def _identity(row: dict) -> tuple:
    return row["encoder"], row["condition"], int(row["training_seed"]), row["task"], int(row["item"])


def compare(committed: list[dict], regenerated: list[dict], tolerance: float = FLIP_TOLERANCE) -> dict:
    """The regenerated rows (a subset, e.g. one run's conditions) against the committed ones on the same identities:
    items whose score or prediction differs, as a share, against the tolerance. Rows the committed table lacks
    are a failure (a regenerated item the study never scored)."""
    by_id = {_identity(r): r for r in committed}
    missing = [_identity(r) for r in regenerated if _identity(r) not in by_id]
    shared = [(by_id[_identity(r)], r) for r in regenerated if _identity(r) in by_id]
    flipped = [_identity(b) for a, b in shared
               if abs(float(a["score"]) - float(b["score"])) > 1e-6 or a["prediction"] != b["prediction"]]
    share = len(flipped) / len(shared) if shared else 1.0
    return {"shared": len(shared), "missing_from_committed": len(missing), "differing": len(flipped),
            "differing_share": share, "tolerance": tolerance, "examples": [list(x) for x in flipped[:10]],
            "agree": bool(shared) and not missing and share <= tolerance}
