"""Predictions in the input formats of the benchmarks' own scorers, so their scripts score them.

- MMAU (Sakshi113/MMAU, evaluation.py): the benchmark's JSON list, each item with the model's answer added under
  ``model_prediction`` (the current script's key) and ``model_output`` (the key of its earlier versions).
- AIR-Bench Chat (OFA-Sys/AIR-Bench, Inference_Chat.py -> score_chat.py): JSONL, one object per item with
  meta_info, question, answer_gt, path, task_name, dataset_name, response, uniq_id. Its GPT-4 judge is not run
  here: the score stands as "not run (GPT-4 judge)" wherever it would appear.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..provenance import write_atomic

AIRBENCH_KEYS = ("meta_info", "question", "answer_gt", "path", "task_name", "dataset_name", "response", "uniq_id")


def _paired(records: list[dict], predictions: list[dict]) -> list[tuple[dict, dict]]:
    if len(records) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} records: write the official format "
                         f"from a complete evaluation part")
    for i, (r, p) in enumerate(zip(records, predictions)):
        if p["audio_id"] != r["audio_id"]:
            raise ValueError(f"prediction {i + 1} is for {p['audio_id']}, record {i + 1} is {r['audio_id']}")
    return list(zip(records, predictions))


def write_mmau(records: list[dict], predictions: list[dict], path: Path) -> Path:
    items = [{**r["meta"], "model_prediction": p["prediction"], "model_output": p["prediction"]}
             for r, p in _paired(records, predictions)]
    write_atomic(path, json.dumps(items, indent=2, ensure_ascii=False) + "\n")
    return path


def write_airbench(records: list[dict], predictions: list[dict], path: Path) -> Path:
    rows = []
    for r, p in _paired(records, predictions):
        item = {**r["meta"], "response": p["prediction"]}
        rows.append(json.dumps({k: item[k] for k in AIRBENCH_KEYS}, ensure_ascii=False))
    write_atomic(path, "\n".join(rows) + "\n")
    return path


WRITERS = {"mmau": (write_mmau, "mmau_predictions.json"), "airbench": (write_airbench, "Chat_result_mats.jsonl")}
