"""Each encoder's zero-shot ceiling on the classification tasks (the encoders-and-data notebook).
"""
from __future__ import annotations

import json

import numpy as np

from ..config import Config, resolve_path
from ..data.records import load_eval_records
from ..data.tasks import get_task
from ..encoders import encoder_from_config
from ..metrics import balanced_accuracy
from ..prompts import zero_shot_prompt
from ..encoder_metrics import zero_shot_predictions


def zero_shot_correct(encoder, root, records: list[dict], names: list[str], prompts: list[str]) -> np.ndarray:
    """[items] 0/1: each record's audio embedding is nearest (cosine) to the prompt of its own label among
    ``names`` (``prompts[i]`` describes ``names[i]``): the encoder alone, no LLM."""
    audio = encoder.embed_audio([root / r["audio_id"] for r in records])
    chosen = zero_shot_predictions(audio, encoder.embed_text(prompts))
    return (np.asarray(names)[chosen] == np.array([r["output"] for r in records])).astype(float)


def zero_shot(cfg: Config, progress: bool = False) -> list[dict]:
    """Per classification task, the encoder alone: each eval clip against "the sound of <label>" for every
    label of its set (cosine, argmax): accuracy and balanced accuracy, the ceiling of a model that hears
    through this encoder."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    encoder = encoder_from_config(cfg.encoder, progress=progress)
    rows = []
    for task in sorted(t for t in labels if get_task(t).kind == "classification"):
        records = load_eval_records(root / "eval" / f"{task}.jsonl", root)[0]
        names = labels[task]["labels"]
        correct = zero_shot_correct(encoder, root, records, names, [zero_shot_prompt(n) for n in names])
        refs = [r["output"] for r in records]
        rows.append({"task": task, "encoder": cfg.encoder.name, "n": len(records), "accuracy": float(correct.mean()),
                     "balanced_accuracy": balanced_accuracy(correct, refs), "balanced_chance": 1 / len(set(refs))})
    return rows
