"""Evaluation runner: trained model x modality transfer x benchmark task -> predictions + metrics.

Each (transfer, task) part writes ``predictions.jsonl`` (audio id, question, prediction, reference)
batch by batch and ``metrics.json`` when done, and is logged to MLflow as a nested run. A part with
metrics is never recomputed; a part interrupted mid-way continues from its last complete batch (noise
is drawn per batch from a seed derived from (seed, transfer, task, batch), so a resumed part gives the
same predictions). A zero-shot guard refuses caption tasks whose references occur in the training corpus.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .config import Config, resolve_path
from .data.audiotia import normalise, signature
from .data.records import load_eval_records, load_train_records
from .data.tasks import get_task
from .encoders import encoder_from_config
from .inference import Decoding, generate, load_trained
from .metrics import (CAPTION_METRICS, accuracy_items, bootstrap_ci, caption_metrics, match_to_classes, mean_average_precision,
                      postprocess, qa_items)
from .paths import cache_dir
from .santa import MemoryBank, SantaSettings, apply_transfer, build_memory_bank, subsample_memory
from .seed import derive_seed
from .training import find_checkpoint

MAX_NEW_TOKENS = {"classification": 12, "multilabel": 24, "caption": 30, "qa": 8, "open": 64}


class ZeroShotError(RuntimeError):
    pass


@dataclass
class EvalSettings:
    transfers: tuple[str, ...] = ("raw", "noise", "memory", "santa")
    tasks: tuple[str, ...] = ("cls_opensfx", "cls_wesnoth", "cls_animals", "cls_desktop", "cls_synth", "cls_vocal",
                              "caption_scenes", "qa_scenes")
    seed: int = 0
    batch_size: int = 16
    max_items: int | None = None  # per task: a seeded random subset, for runs on a small CPU budget
    num_beams: int = 4
    santa: SantaSettings = field(default_factory=SantaSettings)
    bootstrap_resamples: int = 1000
    caption_metrics: tuple[str, ...] = CAPTION_METRICS  # subsets keep tests fast (METEOR starts a JVM)


def training_captions(cfg: Config) -> list[str]:
    """The caption field of every training record (the corpus the memory and the guard draw on)."""
    manifest_path = resolve_path(cfg.data.corpus, "data.corpus")
    captions = []
    for info in json.loads(manifest_path.read_text()).values():
        captions += [r["caption"] for r in load_train_records(manifest_path.parent / info["file"])[0]]
    return sorted(set(captions))


def zero_shot_guard(records: list[dict], train_texts: list[str], task: str) -> None:
    """Refuse a caption task if a reference equals a training caption (up to case, order, stop words)."""
    if get_task(task).kind != "caption":
        return
    exact, near = {normalise(t) for t in train_texts}, {signature(t) for t in train_texts}
    leaked = [r["output"] for r in records if normalise(r["output"]) in exact or signature(r["output"]) in near]
    if leaked:
        raise ZeroShotError(f"{len(leaked)} reference caption(s) of {task} occur in the training corpus "
                            f"(e.g. {leaked[0]!r}): refusing to evaluate, the test would not be zero-shot")


def memory_bank(encoder, texts: list[str], settings: SantaSettings, seed: int) -> MemoryBank:
    """Santa's memory: M seeded training texts, k-means'd once and cached beside the embeddings."""
    key = hashlib.sha256(json.dumps({"encoder": encoder.fingerprint(), "texts": hashlib.sha256(
        "\n".join(texts).encode()).hexdigest(), "m": settings.memory_size, "k": settings.clusters,
        "iters": settings.lloyd_iterations, "dup": settings.duplicating_subsample, "seed": seed}).encode()).hexdigest()[:16]
    path = cache_dir() / f"memory-{encoder.name}-{key}.safetensors"
    if path.exists():
        t = load_file(str(path))
        return MemoryBank(t["memory"], t["centroids"], t["members"], t["sizes"])
    index = subsample_memory(len(texts), settings.memory_size, np.random.default_rng(derive_seed(seed, "memory")),
                             settings.duplicating_subsample)
    embeddings = encoder.embed_text([texts[i] for i in index])
    bank = build_memory_bank(embeddings, settings.clusters, settings.lloyd_iterations, derive_seed(seed, "kmeans"))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"memory": bank.memory.contiguous(), "centroids": bank.centroids.contiguous(),
               "members": bank.members.contiguous(), "sizes": bank.sizes.contiguous()}, str(path))
    return bank


def eval_subset(records: list[dict], task: str, max_items: int | None, seed: int) -> list[dict]:
    """At most ``max_items`` records of ``task``: a seeded random subset in file order, not the first N
    (the files are sorted). Every tool that quotes "the runner's subset" takes it from here."""
    if not max_items or len(records) <= max_items:
        return records
    keep = np.random.default_rng(derive_seed(seed, f"subset/{task}")).permutation(len(records))
    return [records[i] for i in sorted(keep[:max_items])]


def _read_predictions(path: Path, batch_size: int) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a crash
    rows = rows[: len(rows) // batch_size * batch_size]  # resume on a batch boundary
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows


def score_part(task: str, rows: list[dict], labels: dict, encoder, settings: EvalSettings) -> dict:
    kind = get_task(task).kind
    predictions = [r["prediction"] for r in rows]
    out: dict = {"task": task, "kind": kind, "n": len(rows)}
    if kind == "classification":
        classes = labels[task]["labels"]
        items = accuracy_items(predictions, [r["reference"] for r in rows], classes, encoder)
        out.update(metric="accuracy", chance=1 / len(classes), items=items.tolist())
    elif kind == "multilabel":
        classes = labels[task]["labels"]
        targets = np.array([[c in r["reference"].split(", ") for c in classes] for r in rows], dtype=float)
        out.update(metric="mAP", value=mean_average_precision(match_to_classes(predictions, classes, encoder), targets))
        return out
    elif kind == "caption":
        corpus, items_by_metric = caption_metrics(predictions, [[r["reference"]] for r in rows],
                                                  tuple(dict.fromkeys(("CIDEr-D",) + settings.caption_metrics)))
        out.update(metric="CIDEr-D", scores=corpus, items=items_by_metric["CIDEr-D"].tolist())
    elif kind == "qa":
        out.update(metric="accuracy", items=qa_items(predictions, [r["reference"] for r in rows]).tolist())
    else:
        raise ValueError(f"no metric for task kind {kind!r}")
    mean, lo, hi = bootstrap_ci(np.array(out["items"]), settings.bootstrap_resamples, settings.seed)
    out.update(value=mean, ci95=[lo, hi])
    return out


def evaluate_run(run: str | Path, out_dir: str | Path, settings: EvalSettings = EvalSettings(),
                 tracker=None, progress: bool = True) -> dict:
    """Evaluate a training run on the eval part of its benchmark. Returns {transfer: {task: metrics}}."""
    ckpt = find_checkpoint(run)
    model, cfg = load_trained(ckpt)
    state = torch.load(ckpt / "state.pt", weights_only=True)
    santa_settings = settings.santa
    if state.get("noise_variance", 0) > 0:  # noise and Santa use the variance the model was trained with
        santa_settings = SantaSettings(**{**asdict(santa_settings), "noise_variance": float(state["noise_variance"])})
    encoder = encoder_from_config(cfg.encoder, progress=progress)
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    train_texts = training_captions(cfg) if cfg.data.modality == "text" else []
    needs_bank = any(t in ("memory", "santa") for t in settings.transfers)
    bank = memory_bank(encoder, train_texts or training_captions(cfg), santa_settings, settings.seed) if needs_bank else None
    out_dir = Path(out_dir)
    results: dict = {}
    for task in settings.tasks:
        records, _ = load_eval_records(root / "eval" / f"{task}.jsonl", root)
        records = eval_subset(records, task, settings.max_items, settings.seed)
        zero_shot_guard(records, train_texts, task)
        ids = sorted({r["audio_id"] for r in records})
        table = dict(zip(ids, torch.from_numpy(encoder.embed_audio([root / i for i in ids]))))
        for transfer in settings.transfers:
            part = out_dir / transfer / task
            metrics_path = part / "metrics.json"
            if metrics_path.exists():
                results.setdefault(transfer, {})[task] = json.loads(metrics_path.read_text())
                continue
            part.mkdir(parents=True, exist_ok=True)
            rows = _read_predictions(part / "predictions.jsonl", settings.batch_size)
            decoding = Decoding(num_beams=settings.num_beams, max_new_tokens=MAX_NEW_TOKENS[get_task(task).kind])
            starts = range(len(rows), len(records), settings.batch_size)
            for start in tqdm(starts, desc=f"{transfer}/{task}", disable=not progress, leave=False):
                batch = records[start : start + settings.batch_size]
                generator = torch.Generator().manual_seed(derive_seed(settings.seed, f"{transfer}/{task}/{start}"))
                audio = torch.stack([table[r["audio_id"]] for r in batch])
                inputs = apply_transfer(transfer, audio, bank=bank, settings=santa_settings, generator=generator)
                texts = generate(model, inputs, [r["task"] for r in batch], [r.get("instruction") for r in batch], decoding)
                new = [{"audio_id": r["audio_id"], "question": r.get("instruction"), "prediction": postprocess(t),
                        "reference": r["output"]} for r, t in zip(batch, texts)]
                with open(part / "predictions.jsonl", "a") as f:
                    f.writelines(json.dumps(x, sort_keys=True) + "\n" for x in new)
                rows += new
            metrics = score_part(task, rows, labels, encoder, settings)
            metrics.update(transfer=transfer, run=str(ckpt), santa=asdict(santa_settings), num_beams=settings.num_beams)
            metrics_path.write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
            results.setdefault(transfer, {})[task] = metrics
            if tracker is not None:
                tracker.log_part(transfer, task, metrics, part)
    return results


def pooled(results_for_transfer: dict, kind: str, seed: int = 0, resamples: int = 1000) -> dict | None:
    """Pool the per-item scores of every task of one kind (e.g. all classification label sets)."""
    parts = [m for m in results_for_transfer.values() if m["kind"] == kind and "items" in m]
    if not parts:
        return None
    items = np.concatenate([np.array(m["items"]) for m in parts])
    mean, lo, hi = bootstrap_ci(items, resamples, seed)
    chance = None
    if kind == "classification":
        chance = float(sum(m["chance"] * m["n"] for m in parts) / sum(m["n"] for m in parts))
    return {"value": mean, "ci95": [lo, hi], "n": int(len(items)), "chance": chance}
