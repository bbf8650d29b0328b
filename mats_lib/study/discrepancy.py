"""The generalization bound's points measured (claim C5): each transfer's discrepancy between the training
inputs and its test inputs, and its test error. ``analysis.discrepancy`` holds the estimators and the correlations.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.discrepancy import ESTIMATORS, classification_error, discrepancies, shared_gamma
from ..config import Config, resolve_path
from ..data.tasks import get_task
from ..encoders import encoder_from_config
from ..evaluation import corpus_captions, evaluate_run, memory_bank, resolved_santa, scorer_encoder, task_records
from ..inference import generate
from ..metrics import accuracy_items, balanced_accuracy, postprocess
from ..noise import noisy_unit
from ..paths import eval_dir
from ..prompts import label_caption
from ..runs import finished_run, load_run, noise_variance_of, run_config
from ..santa import apply_transfer
from ..seed import derive_seed


def training_inputs(cfg: Config, encoder, noise_variance: float, n: int, seed: int) -> np.ndarray:
    """[n, d] what the text-only decoder is trained on: seeded corpus captions, embedded, plus the training noise."""
    captions = corpus_captions(cfg)
    pick = np.random.default_rng(derive_seed(seed, "discrepancy/texts")).permutation(len(captions))[:n]
    text = torch.from_numpy(encoder.embed_text([captions[i] for i in sorted(pick)]))
    return noisy_unit(text, noise_variance, torch.Generator().manual_seed(derive_seed(seed, "discrepancy/noise"))).numpy()


def label_inputs(cfg: Config, encoder, noise_variance: float, seed: int) -> np.ndarray:
    """[m, d] rows aligned with ``test_inputs``: the text embedding of each eval classification clip's own label
    ("The sound of <label>.") plus the training noise, unit norm."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = {r["audio_id"]: r["output"] for t in cfg.eval.tasks if t.startswith("cls_") for r in task_records(root, t, cfg)}
    text = torch.from_numpy(encoder.embed_text([label_caption(labels[i]) for i in sorted(labels)]))
    return noisy_unit(text, noise_variance, torch.Generator().manual_seed(derive_seed(seed, "discrepancy/labels"))).numpy()


def test_inputs(cfg: Config, encoder, transfer: str, lam: float | None, noise_variance: float, seed: int) -> np.ndarray:
    """[m, d] the eval classification clips' audio embeddings after ``transfer`` (Santa at ``lam``), unit norm."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    ids = sorted({r["audio_id"] for t in cfg.eval.tasks if t.startswith("cls_") for r in task_records(root, t, cfg)})
    audio = torch.from_numpy(encoder.embed_audio([root / i for i in ids]))
    santa = resolved_santa(cfg if lam is None else replace(cfg, santa=replace(cfg.santa, lam=lam)), noise_variance)
    bank = memory_bank(encoder, corpus_captions(cfg), santa, cfg.eval.subset_seed) if transfer in ("memory", "santa") else None
    moved = apply_transfer(transfer, audio, bank=bank, settings=santa,
                           generator=torch.Generator().manual_seed(derive_seed(seed, f"discrepancy/{transfer}")))
    return F.normalize(moved, dim=-1).numpy()


def text_risk(run: Path, cfg: Config, noise_variance: float, seed: int = 0) -> float:
    """The text-domain error of a run: fed the text of each clip's true label ("The sound of <label>.") plus
    its training noise instead of the audio, 1 - balanced accuracy, pooled as the test error is."""
    loaded = load_run(run)
    model, run_cfg = loaded.model, loaded.config
    encoder, scorer = encoder_from_config(run_cfg.encoder, progress=False), scorer_encoder(cfg.eval.scorer)
    root = resolve_path(run_cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    values = []
    for task in (t for t in cfg.eval.tasks if get_task(t).kind == "classification"):
        records = task_records(root, task, cfg)
        refs = [r["output"] for r in records]
        text = torch.from_numpy(encoder.embed_text([label_caption(x) for x in refs]))
        inputs = noisy_unit(text, noise_variance, torch.Generator().manual_seed(derive_seed(seed, f"text_risk/{task}")))
        decoding = replace(cfg.decoding, max_new_tokens=cfg.decoding.max_tokens_for("classification"))
        answers = []
        for start in range(0, len(records), cfg.eval.batch_size):
            batch = records[start : start + cfg.eval.batch_size]
            answers += [postprocess(a) for a in generate(model, inputs[start : start + len(batch)], [r["task"] for r in batch],
                                                         [r.get("instruction") for r in batch], decoding)]
        values.append(balanced_accuracy(accuracy_items(answers, refs, labels[task]["labels"], scorer), refs))
    return float(1 - np.mean(values))


def bound_points(preset: str, encoders: list[str], seeds: list[int], lambdas: list[float], *, n_train: int = 1000,
                 overrides: dict | None = None, out_root: Path | None = None, progress: bool = False) -> dict:
    """Every (encoder, training seed, transfer/lambda) point: its three discrepancy estimates and its test
    error, plus each run's text-domain risk."""
    out_root = out_root or eval_dir()
    points, risks = [], {}
    for encoder_name in encoders:
        cfg = run_config(preset, encoder_name, seeds[0], "text", overrides)
        encoder = encoder_from_config(cfg.encoder, progress=progress)
        runs = {s: finished_run(run_config(preset, encoder_name, s, "text", overrides)) for s in seeds}
        variance = noise_variance_of(runs[seeds[0]] / "final")
        train_x = training_inputs(cfg, encoder, variance, n_train, cfg.eval.subset_seed)
        label_x = label_inputs(cfg, encoder, variance, cfg.eval.subset_seed)
        settings_list = [("plain", None), ("memory", None)] + [("santa", float(lam)) for lam in lambdas]
        gamma = None
        for transfer, lam in settings_list:
            test_x = test_inputs(cfg, encoder, transfer, lam, variance, cfg.eval.subset_seed)
            gamma = gamma or shared_gamma(train_x, test_x)
            estimates = discrepancies(train_x, test_x, gamma, cfg.eval.subset_seed, label_text=label_x)
            for seed, folder in runs.items():
                run_cfg = run_config(preset, encoder_name, seed, "text", overrides)
                settings = replace(run_cfg, eval=replace(run_cfg.eval, transfers=[transfer]),
                                   santa=replace(run_cfg.santa, lam=lam) if lam is not None else run_cfg.santa)
                parts = evaluate_run(folder, settings, out_root / folder.name, progress=progress)[transfer]
                points.append({"encoder": encoder_name, "seed": seed, "transfer": transfer, "lam": lam,
                               "test_error": classification_error(parts), **estimates})
        for seed, folder in runs.items():
            risks[f"{encoder_name}/seed{seed}"] = text_risk(folder, cfg, variance, cfg.eval.subset_seed)
    return {"points": points, "text_risk": risks, "estimators": list(ESTIMATORS)}
