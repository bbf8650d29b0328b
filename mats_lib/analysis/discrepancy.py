"""The generalization bound's discrepancy term (paper Thm 3.1; claim C5), estimated three ways.

Thm 3.1 bounds the audio-domain risk by the empirical text-domain risk plus a discrepancy between the text
(training) and audio (test) input distributions, plus a complexity term. Its exact estimator is not
recoverable (mats_method.md s.1), so the study uses three established two-sample estimates between the
training inputs (CLAP text embeddings of corpus captions plus the training noise) and the test inputs (the eval
clips' audio embeddings after a transfer):

- proxy A-distance (Ben-David et al.): 2 (1 - 2 err) of a cross-validated logistic-regression domain classifier;
- MMD^2 with an RBF kernel (median-heuristic bandwidth, scikit-learn's kernel);
- the empirical 1-Wasserstein distance between equal-size samples (optimal assignment, scipy).

C5 holds when the discrepancies order the transfers as their test errors do: the Spearman correlation between
each estimate and the test error (1 - balanced accuracy) over transfers x lambda x encoders x seeds, with a
bootstrap interval over those points. The text-domain risk (the same model fed the text of the true label plus
its training noise) is reported beside it: it is one number per run, so it cannot order the transfers.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config, resolve_path
from ..prompts import label_caption
from ..data.tasks import get_task
from ..encoders import encoder_from_config
from ..evaluation import corpus_captions, evaluate_run, memory_bank, resolved_santa, scorer_encoder, task_records
from ..inference import generate
from ..metrics import accuracy_items, balanced_accuracy, postprocess
from ..paths import eval_dir
from ..noise import noisy_unit
from ..santa import apply_transfer
from ..seed import derive_seed
from .modality_gap import _bandwidth, mmd2_rbf
from ..runs import finished_run, load_run, noise_variance_of, run_config

ESTIMATORS = ("proxy_a_distance", "mmd2_rbf", "wasserstein1")


def training_inputs(cfg: Config, encoder, noise_variance: float, n: int, seed: int) -> np.ndarray:
    """[n, d] what the text-only decoder is trained on: seeded corpus captions, embedded, plus the training noise."""
    captions = corpus_captions(cfg)
    pick = np.random.default_rng(derive_seed(seed, "discrepancy/texts")).permutation(len(captions))[:n]
    text = torch.from_numpy(encoder.embed_text([captions[i] for i in sorted(pick)]))
    return noisy_unit(text, noise_variance, torch.Generator().manual_seed(derive_seed(seed, "discrepancy/noise"))).numpy()


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


def proxy_a_distance(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    data, labels = np.concatenate([x, y]), np.r_[np.zeros(len(x)), np.ones(len(y))]
    accuracy = cross_val_score(LogisticRegression(max_iter=2000, class_weight="balanced"), data, labels,
                               cv=StratifiedKFold(5, shuffle=True, random_state=seed), scoring="balanced_accuracy").mean()
    return float(2 * (1 - 2 * (1 - accuracy)))


def wasserstein1(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Empirical W1 between equal-size seeded subsamples: the mean cost of the optimal assignment."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    n = min(len(x), len(y))
    rng = np.random.default_rng(seed)
    xs, ys = x[rng.permutation(len(x))[:n]], y[rng.permutation(len(y))[:n]]
    cost = cdist(xs, ys)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def discrepancies(train: np.ndarray, test: np.ndarray, gamma: float, seed: int = 0) -> dict[str, float]:
    return {"proxy_a_distance": proxy_a_distance(train, test, seed), "mmd2_rbf": mmd2_rbf(train, test, gamma),
            "wasserstein1": wasserstein1(train, test, seed)}


def shared_gamma(train: np.ndarray, test: np.ndarray) -> float:
    """One RBF bandwidth per encoder (median heuristic on the plain transfer), so MMDs of its transfers compare."""
    return 1.0 / max(_bandwidth(train[:300], test[:300]), 1e-12)


def rank_correlations(points: list[dict], resamples: int = 1000, seed: int = 0) -> dict:
    """Spearman rho between each estimate and the test error over the points, with a bootstrap interval over
    points; C5's verdict per estimator: *better* (rho's interval above 0: larger discrepancy, larger error)."""
    from scipy.stats import spearmanr

    from ..stats import verdict

    error = np.array([p["test_error"] for p in points])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(points), len(points)) for _ in range(resamples)]
    out = {}
    for name in ESTIMATORS:
        estimate = np.array([p[name] for p in points])
        if np.ptp(estimate) == 0 or np.ptp(error) == 0:  # a constant has no ranking: rho is undefined
            out[name] = {"rho": None, "ci95": [None, None], "verdict": "not distinguishable", "points": len(points),
                         "note": "undefined: " + ("the test error" if np.ptp(error) == 0 else "the estimate") + " is constant"}
            continue
        rho = float(spearmanr(estimate, error).statistic)
        boot = [spearmanr(estimate[i], error[i]).statistic for i in draws]
        boot = np.array([b for b in boot if np.isfinite(b)])
        low, high = (np.percentile(boot, [2.5, 97.5]) if len(boot) else (np.nan, np.nan))
        out[name] = {"rho": rho, "ci95": [float(low), float(high)], "verdict": verdict(low, high), "points": len(points)}
    return out


# ------------------------------------------------------------------------------------------ the points
def classification_error(parts: dict) -> float:
    """1 - the mean over classification tasks of balanced accuracy (evaluation seeds averaged)."""
    values = [np.mean([p["balanced_accuracy"] for p in task_parts]) for task, task_parts in parts.items()
              if get_task(task).kind == "classification"]
    return float(1 - np.mean(values))


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
        settings_list = [("plain", None), ("memory", None)] + [("santa", float(lam)) for lam in lambdas]
        gamma = None
        for transfer, lam in settings_list:
            test_x = test_inputs(cfg, encoder, transfer, lam, variance, cfg.eval.subset_seed)
            gamma = gamma or shared_gamma(train_x, test_x)
            estimates = discrepancies(train_x, test_x, gamma, cfg.eval.subset_seed)
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
