"""The embedded world a reader must understand first: the label sets, the training corpus, the encoders'
own zero-shot skill (the ceiling any model that hears through them starts from).
"""
from __future__ import annotations

import json

import numpy as np

from ..config import Config, resolve_path
from ..data.sources import corpus_manifest
from ..data.records import load_eval_records
from ..data.tasks import get_task


def label_sets(cfg: Config) -> list[dict]:
    """Per classification task: classes, eval and audio-train items, the majority class's share, chance."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    rows = []
    for task in sorted(t for t in labels if get_task(t).kind == "classification"):
        refs = [r["output"] for r in load_eval_records(root / "eval" / f"{task}.jsonl", root)[0]]
        train = load_eval_records(root / "train" / f"{task}.jsonl", root)[0] if (root / "train" / f"{task}.jsonl").exists() else []
        values, counts = np.unique(refs, return_counts=True)
        rows.append({"task": task, "classes": len(labels[task]["labels"]), "eval_items": len(refs),
                     "eval_classes_present": int(len(values)), "audio_train_items": len(train),
                     "majority_label": str(values[counts.argmax()]), "majority_rate": float(counts.max() / counts.sum()),
                     "chance": 1 / len(labels[task]["labels"]), "balanced_chance": 1 / len(values)})
    return rows


def corpus_sources(cfg: Config) -> list[dict]:
    """Per source of the text-only corpus: records, sampling ratio, the share of training steps it gets."""
    _, manifest = corpus_manifest(cfg)
    total = sum(float(info["ratio"]) for info in manifest.values())
    return [{"source": name, "task": info["task"], "tag": get_task(info["task"]).tag, "records": int(info["records"]),
             "ratio": float(info["ratio"]), "share_of_steps": float(info["ratio"]) / total}
            for name, info in sorted(manifest.items())]


