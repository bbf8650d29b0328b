"""The generalization bound's discrepancy term (paper Thm 3.1; claim C5), estimated three ways.

Thm 3.1 bounds the audio-domain risk by the empirical text-domain risk plus a discrepancy between the text
(training) and audio (test) input distributions, plus a complexity term. Its exact estimator is not
recoverable from the paper, so the study uses three established two-sample estimates between the
training inputs (CLAP text embeddings of corpus captions plus the training noise) and the test inputs (the eval
clips' audio embeddings after a transfer):

- proxy A-distance (Ben-David et al.): 2 (1 - 2 err) of a cross-validated logistic-regression domain classifier;
- MMD^2 with an RBF kernel (median-heuristic bandwidth, scikit-learn's kernel);
- the empirical 1-Wasserstein distance between equal-size samples (optimal assignment, scipy);
- label-conditioned: the mean distance between each clip's transferred audio and the noisy text embedding of its
  own label ("The sound of <label>."), which holds content fixed where the three above compare random corpus
  captions with the eval clips (content shift and modality shift mixed).

C5's declared test (``claims.yaml``, decided in ``analysis.verdicts``) correlates an estimate with the test error
(1 - balanced accuracy) within each encoder over its distinct transfers (seeds averaged: a discrepancy is measured
once per transfer); ``rank_correlations`` below is the pooled view the figure titles show. The text-domain risk (the same model fed the text of the true label plus
its training noise) is reported beside it: it is one number per run, so it cannot order the transfers.
"""
from __future__ import annotations


import numpy as np

from ..data.tasks import get_task
from .modality_gap import _bandwidth, mmd2_rbf

ESTIMATORS = ("proxy_a_distance", "mmd2_rbf", "wasserstein1", "label_paired_distance")


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


def label_paired_distance(label_text: np.ndarray, test: np.ndarray) -> float:
    """Mean distance between each clip's test input and the (noisy) text embedding of its own label: rows paired."""
    return float(np.linalg.norm(label_text - test, axis=1).mean())


def discrepancies(train: np.ndarray, test: np.ndarray, gamma: float, seed: int = 0,
                  label_text: np.ndarray | None = None) -> dict[str, float]:
    out = {"proxy_a_distance": proxy_a_distance(train, test, seed), "mmd2_rbf": mmd2_rbf(train, test, gamma),
           "wasserstein1": wasserstein1(train, test, seed)}
    if label_text is not None:
        out["label_paired_distance"] = label_paired_distance(label_text, test)
    return out


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
    for name in (e for e in ESTIMATORS if all(e in p for p in points)):
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


