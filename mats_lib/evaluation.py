"""Evaluation runner: trained run x modality transfer x benchmark task (x evaluation seed) -> a keyed part.

Every part lives in ``<out>/<transfer>/<task>/<key>/`` with ``predictions.jsonl`` (written batch by batch)
and ``metrics.json`` (written atomically, with the key's inputs and the provenance). The key hashes
everything that makes the part's numbers: the checkpoint's bytes, the run key, the encoder fingerprint,
the task's data, the transfer and its Santa settings (with the resolved noise variance), the decoding, the
item subset, the evaluation seed (stochastic transfers only), the scorer and the evaluation code. A part is
reused only under the same key; another key gets its own folder. An interrupted part resumes from its last
complete batch after its rows are checked, one by one, against the current subset.

Settings come from one :class:`~mats_lib.config.Config`: its ``santa``, ``eval`` and ``decoding``
sections; the run's own config gives the model, the encoder and the data. Guards: a run whose key no
longer matches (data, heads, code or settings changed) is refused, an encoder other than the run's is
refused, and a caption task whose references occur in the training texts is refused (zero-shot).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm  # text bars: tqdm.auto wants ipywidgets in a kernel and warns without it

from .checkpoints import CheckpointError, read_safetensors
from .config import Config, SantaConfig, resolve_path
from .data.audiotia import normalise, signature
from .data.records import load_eval_records
from .data.sources import audio_records, corpus_records
from .data.tasks import get_task
from .encoders import create_encoder, encoder_from_config
from .inference import generate
from .metrics import (accuracy_items, balanced_accuracy, caption_metrics, class_baselines, exact_match_items,
                      match_to_classes, mean_average_precision, postprocess, qa_items)
from .modality_offset import modality_offset
from .paths import cache_dir
from .code_keys import code_key
from .provenance import file_sha256, numeric_platform, provenance, settings_key, write_json_atomic
from .runs import check_run_key, load_run, read_key, training_key
from .santa import TRANSFERS, STOCHASTIC_TRANSFERS, MemoryBank, apply_transfer, build_memory_bank, subsample_memory
from .seed import derive_seed


class ZeroShotError(RuntimeError):
    pass


class EncoderMismatchError(RuntimeError):
    pass


class StalePartError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------ guards
def training_texts(cfg: Config) -> list[str]:
    """The texts a run was trained on: corpus captions (text) or the audio records' answers (MATS-Audio)."""
    texts = []
    if cfg.data.modality == "text":
        for records in corpus_records(cfg).values():
            texts += [r["caption"] for r in records] + [r["output"] for r in records if get_task(r["task"]).kind == "caption"]
    else:
        texts = [r["output"] for records in audio_records(cfg).values() for r in records]
    return sorted(set(texts))


def corpus_captions(cfg: Config) -> list[str]:
    """The distinct caption fields of the text corpus: what Santa's memory draws from."""
    return sorted({r["caption"] for records in corpus_records(cfg).values() for r in records})


def zero_shot_guard(records: list[dict], train_texts: list[str], task: str) -> None:
    """Refuse a caption task if a reference equals a training text (up to case, order, stop words)."""
    if get_task(task).kind != "caption":
        return
    exact, near = {normalise(t) for t in train_texts}, {signature(t) for t in train_texts}
    leaked = [r["output"] for r in records if normalise(r["output"]) in exact or signature(r["output"]) in near]
    if leaked:
        raise ZeroShotError(f"{len(leaked)} reference caption(s) of {task} occur in the training texts "
                            f"(e.g. {leaked[0]!r}): refusing to evaluate, the test would not be zero-shot")


def require_run_encoder(run_cfg: Config, settings: Config) -> None:
    """Refuse to evaluate a run with an encoder other than the one it was trained with."""
    if asdict(run_cfg.encoder) != asdict(settings.encoder):
        raise EncoderMismatchError(f"the run was trained with encoder {asdict(run_cfg.encoder)}, the evaluation "
                                   f"asks for {asdict(settings.encoder)}: a model only hears through its own CLAP")


# ------------------------------------------------------------------------------------------ Santa's memory
def memory_size(santa: SantaConfig, n_texts: int) -> int:
    size = round(santa.memory_fraction * n_texts) if santa.memory_fraction is not None else santa.memory_size
    return max(1, min(size, n_texts))


def memory_bank(encoder, texts: list[str], settings: SantaConfig, seed: int) -> MemoryBank:
    """Santa's memory: M seeded training texts, k-means'd once and cached (atomically) beside the embeddings."""
    size = memory_size(settings, len(texts))
    key = settings_key({"encoder": encoder.fingerprint(), "texts": settings_key(texts), "m": size,
                        "k": settings.clusters, "iters": settings.lloyd_iterations,
                        "dup": settings.duplicating_subsample, "seed": seed,
                        "code": code_key("memory_bank")})
    path = cache_dir() / f"memory-{encoder.name}-{key}.safetensors"
    t, meta = read_safetensors(path, "Santa's memory bank") if path.exists() else ({}, {})
    if path.exists() and not meta:  # written before banks carried their encoder and key: a cache, rebuilt below
        print(f"{path.name}: a memory bank without its encoder and key (older code); rebuilding it")
    elif path.exists():
        if meta.get("encoder") != encoder.fingerprint() or meta.get("key") != key:
            raise CheckpointError(path, f"memory bank built for encoder {meta.get('encoder')!r} (key "
                                        f"{meta.get('key')!r}), not for {encoder.fingerprint()!r} (key {key!r}); "
                                        "delete it and it is rebuilt")
        if set(t) != {"memory", "centroids", "members", "sizes"} or t["memory"].shape[-1] != encoder.dim:
            raise CheckpointError(path, f"memory bank of {sorted(t)} with width {t.get('memory', torch.empty(0)).shape[-1:]}"
                                        f", not the {encoder.dim}-d bank of {encoder.name}; delete it and it is rebuilt")
        return MemoryBank(t["memory"], t["centroids"], t["members"], t["sizes"])
    index = subsample_memory(len(texts), size, np.random.default_rng(derive_seed(seed, "memory")),
                             settings.duplicating_subsample)
    embeddings = encoder.embed_text([texts[i] for i in index])
    bank = build_memory_bank(embeddings, settings.clusters, settings.lloyd_iterations, derive_seed(seed, "kmeans"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file({"memory": bank.memory.contiguous(), "centroids": bank.centroids.contiguous(),
               "members": bank.members.contiguous(), "sizes": bank.sizes.contiguous()}, str(tmp),
              metadata={"encoder": encoder.fingerprint(), "key": key})
    os.replace(tmp, path)
    return bank


# ------------------------------------------------------------------------------------------ items
def eval_subset(records: list[dict], task: str, max_items: int | None, seed: int) -> list[dict]:
    """At most ``max_items`` records of ``task``: a seeded random subset in file order, not the first N
    (the files are sorted). Every tool that quotes "the runner's subset" takes it from here."""
    if not max_items or len(records) <= max_items:
        return records
    keep = np.random.default_rng(derive_seed(seed, f"subset/{task}")).permutation(len(records))
    return [records[i] for i in sorted(keep[:max_items])]


def task_records(root: Path, task: str, settings: Config) -> list[dict]:
    records, _ = load_eval_records(root / "eval" / f"{task}.jsonl", root)
    return eval_subset(records, task, settings.eval.max_items, settings.eval.subset_seed)


def _row_identity(record: dict) -> tuple:
    return record["audio_id"], record.get("instruction"), record["output"]


def _identity_key(record: dict) -> tuple:
    """What a part's data key hashes per item: its identity and, when it has them, every reference."""
    return (*_row_identity(record), record.get("references"))


def _read_predictions(path: Path, records: list[dict], batch_size: int) -> list[dict]:
    """The complete batches of an interrupted part, each row checked against the current subset."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a crash
    rows = rows[: len(rows) // batch_size * batch_size]  # resume on a batch boundary
    for i, row in enumerate(rows):
        if i >= len(records) or (row["audio_id"], row["question"], row["reference"]) != _row_identity(records[i]):
            raise StalePartError(f"{path.parent}: row {i + 1} of its predictions ({row.get('audio_id')}) is not item "
                                 f"{i + 1} of the current subset: the part was made from other items; delete the "
                                 f"part folder to recompute it")
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows


# ------------------------------------------------------------------------------------------ scoring
def scorer_encoder(name: str):
    """The fixed scorer that matches answers to class names: MiniLM, whatever the run's CLAP."""
    if name != "minilm":
        raise ValueError(f"unknown scorer {name!r}; the study scores with 'minilm'")
    return create_encoder("tagclap", progress=False)  # tagclap's text side is normalised MiniLM


def score_part(task: str, rows: list[dict], labels: dict, scorer, settings: Config) -> dict:
    kind = get_task(task).kind
    predictions = [r["prediction"] for r in rows]
    references = [r["reference"] for r in rows]
    # the items' identity and answers travel with their scores: the per-item table the verdicts read holds them
    out: dict = {"task": task, "kind": kind, "n": len(rows), "ids": [r["audio_id"] for r in rows],
                 "predictions": predictions, "references": references}
    several = [r.get("references") for r in rows]  # every acceptable label / reference caption, when given
    if kind == "classification":
        classes = labels[task]["labels"]
        items = accuracy_items(predictions, references, classes, scorer, several)
        out.update(metric="balanced_accuracy", items=items.tolist(), labels=references,
                   exact=exact_match_items(predictions, references).tolist(),
                   accuracy=float(items.mean()), balanced_accuracy=balanced_accuracy(items, references),
                   **class_baselines(references, classes))
        out["value"] = out["balanced_accuracy"]
    elif kind == "multilabel":
        classes = labels[task]["labels"]
        targets = np.array([[c in (alt or r.split(", ")) for c in classes] for r, alt in zip(references, several)],
                           dtype=float)
        out.update(metric="mAP", value=mean_average_precision(match_to_classes(predictions, classes, scorer), targets))
    elif kind == "caption":
        corpus, items_by_metric = caption_metrics(predictions, [alt or [r] for r, alt in zip(references, several)],
                                                  tuple(dict.fromkeys(("CIDEr-D",) + tuple(settings.eval.caption_metrics))))
        out.update(metric="CIDEr-D", scores=corpus, items=items_by_metric["CIDEr-D"].tolist(),
                   value=float(items_by_metric["CIDEr-D"].mean()))
    elif kind == "qa":
        items = qa_items(predictions, references)
        out.update(metric="accuracy", items=items.tolist(), value=float(items.mean()))
    elif kind == "open":  # open-ended chat (AIR-Bench): its own GPT-4 judge scores it, not run here
        out.update(metric="not run (external judge)", value=None)
    else:
        raise ValueError(f"no metric for task kind {kind!r}")
    return out


# ------------------------------------------------------------------------------------------ keys
def resolved_santa(settings: Config, run_noise_variance: float) -> SantaConfig:
    """The Santa settings a part uses: an explicit noise variance (0 included) is kept; null is the run's own."""
    if settings.santa.noise_variance is not None:
        return settings.santa
    return replace(settings.santa, noise_variance=float(run_noise_variance))


def evaluation_platform(run_cfg: Config) -> dict:
    """Where the part's numbers are computed: the device, the CPU's vector units and the LLM dtype 'auto'
    resolves to there (bf16 on CPUs with AVX512-BF16 or AMX, fp32 elsewhere)."""
    from .model import resolve_device, resolve_dtype

    return {**numeric_platform(str(resolve_device("auto"))), "llm_dtype": str(resolve_dtype(run_cfg.llm.dtype))}


def part_inputs(transfer: str, task: str, eval_seed: int, *, checkpoint_sha: str, run_key: str, encoder_fp: str,
                data_sha: str, santa: SantaConfig, settings: Config, platform: dict | None = None,
                offset: dict | None = None, scorer_fp: str | None = None) -> dict:
    """Everything that makes one part's numbers; its hash is the part's key. ``offset``: the mean_shift
    transfer's offset statistics (its hash included); ``scorer_fp``: the scorer encoder's fingerprint (its code
    is keyed there, like the run's encoder)."""
    if transfer == "added_noise":
        santa_used = {"noise_variance": santa.noise_variance}
    elif transfer in ("memory", "santa"):
        santa_used = asdict(santa)
    elif transfer == "mean_shift":
        santa_used = {"offset": offset}
    else:
        santa_used = {}
    kind = get_task(task).kind
    return {"checkpoint": checkpoint_sha, "run_key": run_key, "encoder": encoder_fp, "data": data_sha,
            "transfer": transfer, "task": task, "santa": santa_used, "decoding": asdict(settings.decoding),
            "max_new_tokens": settings.decoding.max_tokens_for(kind),
            "subset": {"max_items": settings.eval.max_items, "seed": settings.eval.subset_seed},
            "eval_seed": eval_seed if transfer in STOCHASTIC_TRANSFERS else None,
            "batch_size": settings.eval.batch_size, "scorer": settings.eval.scorer, "scorer_encoder": scorer_fp,
            "caption_metrics": sorted(settings.eval.caption_metrics) if kind == "caption" else None,
            "platform": platform, "code": code_key("evaluation")}


def eval_seeds(transfer: str, settings: Config) -> list[int]:
    """Stochastic transfers are drawn once per evaluation seed; deterministic ones once."""
    return list(settings.eval.seeds) if transfer in STOCHASTIC_TRANSFERS else [settings.eval.seeds[0]]


# ------------------------------------------------------------------------------------------ the runner
def items_root(settings: Config, run_cfg: Config) -> Path:
    """Where the evaluated items live: a paper benchmark prepared by mats_lib.benchmarks (``eval.data_root``, which
    also registers its tasks) or the run's own MiniAudio."""
    if settings.eval.data_root:
        from . import benchmarks  # noqa: F401

        return resolve_path(settings.eval.data_root, "eval.data_root")
    return resolve_path(run_cfg.data.audio_root, "data.audio_root")


def evaluate_run(run: str | Path, settings: Config, out_dir: str | Path, tracker=None,
                 progress: bool = True) -> dict:
    """Evaluate a training run on the eval part of its benchmark under ``settings``' santa / eval / decoding
    sections. Returns {transfer: {task: [metrics of each evaluation seed]}}."""
    loaded = load_run(run)
    ckpt, model, run_cfg = loaded.checkpoint, loaded.model, loaded.config
    require_run_encoder(run_cfg, settings)
    encoder = encoder_from_config(run_cfg.encoder, progress=progress)
    stored = read_key(ckpt) or {}
    check_run_key(ckpt, training_key(run_cfg, encoder.fingerprint()))
    santa = resolved_santa(settings, loaded.noise_variance)
    unknown = sorted(set(settings.eval.transfers) - set(TRANSFERS))
    if unknown:
        raise ValueError(f"unknown transfer(s) {unknown}; choose from {', '.join(TRANSFERS)}")
    scorer = scorer_encoder(settings.eval.scorer)
    root = items_root(settings, run_cfg)
    labels_path = root / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.is_file() else {}
    guard_texts = training_texts(run_cfg)
    bank = None
    if any(t in ("memory", "santa") for t in settings.eval.transfers):
        bank = memory_bank(encoder, corpus_captions(run_cfg), santa, settings.eval.subset_seed)
    offset, offset_info = None, None
    if "mean_shift" in settings.eval.transfers:
        vector, offset_info = modality_offset(run_cfg, encoder)
        offset = torch.from_numpy(vector)
    checkpoint_sha = file_sha256(ckpt / "trainable.safetensors")
    platform = evaluation_platform(run_cfg)
    out_dir = Path(out_dir)
    results: dict = {}
    for task in settings.eval.tasks:
        records = task_records(root, task, settings)
        zero_shot_guard(records, guard_texts, task)
        data_sha = settings_key({"records": [_identity_key(r) for r in records],
                                 "labels": labels.get(task), "manifest": _manifest_sha(root)})
        ids = sorted({r["audio_id"] for r in records})
        table = dict(zip(ids, torch.from_numpy(encoder.embed_audio([root / i for i in ids]))))
        if not santa.normalize_first:  # the release mixes the audio embedding at its raw scale
            norms = encoder.raw_audio_norms([root / i for i in ids])
            table = {i: table[i] * float(n) for i, n in zip(ids, norms)}
        for transfer in settings.eval.transfers:
            for seed in eval_seeds(transfer, settings):
                inputs = part_inputs(transfer, task, seed, checkpoint_sha=checkpoint_sha, run_key=stored.get("key", ""),
                                     encoder_fp=encoder.fingerprint(), data_sha=data_sha, santa=santa, settings=settings,
                                     platform=platform, offset=offset_info, scorer_fp=scorer.fingerprint())
                metrics = _evaluate_part(model, records, table, bank, offset, santa, transfer, task, seed, inputs,
                                         labels, scorer, settings, out_dir, tracker, progress, run=str(ckpt))
                results.setdefault(transfer, {}).setdefault(task, []).append(metrics)
    return results


def _manifest_sha(root: Path) -> str | None:
    manifest = root.parent / "manifest.json"
    return file_sha256(manifest) if manifest.exists() else None


def _evaluate_part(model, records, table, bank, offset, santa, transfer, task, seed, inputs, labels, scorer,
                   settings, out_dir, tracker, progress, run) -> dict:
    key = settings_key(inputs)
    part = out_dir / transfer / task / key
    metrics_path = part / "metrics.json"
    label = f"{transfer}/{task}" + (f"/eval_seed{seed}" if inputs["eval_seed"] is not None else "")
    params = {"transfer": transfer, "task": task, "eval_seed": seed, "part_key": key, "run": Path(run).parent.name,
              "run_key": inputs["run_key"], "encoder.name": settings.encoder.name, "training_seed": settings.seed,
              "preset": settings.preset, **_flat_settings(settings, santa)}
    if metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        if metrics.get("key") == key:  # reused by its key: still a child of the step that reused it, and says so
            if tracker is not None:
                tracker.log_part(label, metrics, part, params={**params, "reused": True})
            return metrics
    part.mkdir(parents=True, exist_ok=True)
    batch_size = settings.eval.batch_size
    rows = _read_predictions(part / "predictions.jsonl", records, batch_size)
    kind = get_task(task).kind
    decoding = replace(settings.decoding, max_new_tokens=settings.decoding.max_tokens_for(kind))
    starts = range(len(rows), len(records), batch_size)
    for start in tqdm(starts, desc=label, disable=not progress, leave=False):
        batch = records[start : start + batch_size]
        generator = torch.Generator().manual_seed(derive_seed(seed, f"{transfer}/{task}/{start}"))
        audio = torch.stack([table[r["audio_id"]] for r in batch])
        embedded = apply_transfer(transfer, audio, bank=bank, settings=santa, generator=generator, offset=offset)
        texts = generate(model, embedded, [r["task"] for r in batch], [r.get("instruction") for r in batch], decoding)
        new = [{"audio_id": r["audio_id"], "question": r.get("instruction"), "prediction": postprocess(t),
                "reference": r["output"], **({"references": r["references"]} if "references" in r else {})}
               for r, t in zip(batch, texts)]
        with open(part / "predictions.jsonl", "a") as f:
            f.writelines(json.dumps(x, sort_keys=True) + "\n" for x in new)
        rows += new
    metrics = score_part(task, rows, labels, scorer, settings)
    metrics.update(transfer=transfer, eval_seed=seed, run=run, key=key, inputs=inputs, provenance=provenance())
    write_json_atomic(metrics_path, metrics)
    if tracker is not None:
        tracker.log_part(label, metrics, part, params={**params, "reused": False})
    return metrics


def _flat_settings(settings: Config, santa: SantaConfig) -> dict:
    """santa.* (as resolved), eval.* and decoding.*: what the MLflow compare view lines parts up by."""
    flat = {k: v for k, v in settings.flat().items() if k.split(".")[0] in ("eval", "decoding")}
    flat.update({f"santa.{k}": v for k, v in asdict(santa).items()})
    return flat
