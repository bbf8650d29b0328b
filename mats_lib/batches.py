"""What a training step consumes: the training records by source, their prompt batches, the optimizer and its
learning-rate schedule.

The training loop uses them, and so does code that must build a step exactly as training does without training:
the pre-flight's token estimate (``check``), C8's efficiency and the paper-step timing (``analysis``).
"""
from __future__ import annotations

import math

import torch

from .config import Config, ConfigError
from .data.tasks import get_task
from .data.sources import audio_records, corpus_manifest, corpus_records
from .model import MATS, build_prompt_batch


def load_sources(cfg: Config) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Training records per source and the sampling ratios."""
    limit = cfg.data.max_records_per_source
    sources, ratios = {}, {}
    if cfg.data.modality == "text":
        _, manifest = corpus_manifest(cfg)
        for name, records in corpus_records(cfg).items():
            sources[name], ratios[name] = records[:limit] if limit else records, float(manifest[name]["ratio"])
    else:
        for name, records in audio_records(cfg).items():
            sources[name], ratios[name] = records[:limit] if limit else records, 1.0
    if not sources:
        raise ConfigError(f"no training records found for modality {cfg.data.modality!r}")
    return sources, ratios


def training_batch(tokenizer, records: list[dict], max_answer_tokens: int):
    """The prompts and answers of training records: each task's tag and instruction (or the record's own)."""
    tasks = [get_task(r["task"]) for r in records]
    return build_prompt_batch(tokenizer, [t.tag for t in tasks],
                              [r.get("instruction") or t.instruction for r, t in zip(records, tasks)],
                              [r["output"] for r in records], max_answer_tokens)


def input_key(record: dict) -> str:
    return record["caption"] if "caption" in record else record["audio_id"]


def make_optimizer(model: MATS, cfg: Config) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            # the paper: weight decay on weight matrices only, none on biases and norms
            (no_decay if param.ndim < 2 or "norm" in name or name.endswith(".bias") else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.train.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.train.lr, betas=tuple(cfg.train.betas))


def lr_factor(step: int, cfg: Config) -> float:
    """Multiplier of the peak lr at optimizer step ``step``: linear warm-up from warmup_start_lr, cosine to 0."""
    t = cfg.train
    if step < t.warmup_steps:
        start = t.warmup_start_lr / t.lr
        return start + (1.0 - start) * step / max(1, t.warmup_steps)
    progress = (step - t.warmup_steps) / max(1, t.max_steps - t.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
