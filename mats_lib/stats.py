"""Paired comparisons that decide: hierarchical bootstrap over training seeds and items, and one verdict.

Two conditions scored on the same items (the same subset for every run and transfer) are compared by
their per-item differences, never by whether two marginal intervals overlap. One resample draws training
seeds with replacement, then, within each drawn seed and each task, items with replacement; both
conditions see the same draw, so the interval is of the paired difference. Test-time draws (noise,
Santa's noise) are averaged per item over the evaluation seeds before resampling.

A score is a :class:`TaskScores` per task: ``values`` [seeds, items] and, for classification, the items'
reference labels, so the statistic can be balanced accuracy (macro recall over the classes present in the
resample) rather than a plain mean. Pooled over tasks, the statistic is the unweighted mean of the
per-task statistics (each task counts once, whatever its size).

    d = paired_difference({"cls": a}, {"cls": b}, resamples=1000, seed=0)
    d.verdict  # "better" | "worse" | "not distinguishable"
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VERDICTS = ("better", "worse", "not distinguishable")


@dataclass
class TaskScores:
    """Per-item scores of one condition on one task: ``values`` [seeds, items]; ``labels`` [items] for
    balanced accuracy (None: the statistic is the mean)."""

    values: np.ndarray
    labels: list[str] | None = None

    def __post_init__(self):
        self.values = np.atleast_2d(np.asarray(self.values, dtype=float))
        if self.labels is not None and len(self.labels) != self.values.shape[1]:
            raise ValueError(f"{len(self.labels)} labels for {self.values.shape[1]} items")


@dataclass
class Interval:
    value: float
    low: float
    high: float
    resamples: int
    seeds: int
    items: dict[str, int] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)

    def as_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high], "verdict": self.verdict,
                "resamples": self.resamples, "training_seeds": self.seeds, "items": self.items}

    def __str__(self) -> str:
        return f"{self.value:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def verdict(low: float, high: float) -> str:
    """The shared vocabulary: *better* when the 95% interval of the difference lies above 0, *worse* when
    below, *not distinguishable* otherwise."""
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "not distinguishable"


def _statistic(values: np.ndarray, counts: np.ndarray, seed_index: np.ndarray, onehot: np.ndarray | None) -> np.ndarray:
    """values [S, N], counts [R, S', N] (item draws per resampled seed), seed_index [R, S'] -> [R]."""
    drawn = values[seed_index]  # [R, S', N]
    if onehot is None:
        per_seed = (counts * drawn).sum(-1) / counts.sum(-1)
    else:  # macro recall over the classes present in the resample
        totals = counts @ onehot  # [R, S', C]
        hits = (counts * drawn) @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(totals > 0, hits / np.maximum(totals, 1e-12), np.nan)
        per_seed = np.nanmean(recall, axis=-1)
    return per_seed.mean(-1)


def _onehot(labels: list[str] | None) -> np.ndarray | None:
    if labels is None:
        return None
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    return np.eye(len(classes))[index]


def _check(a: dict[str, TaskScores], b: dict[str, TaskScores] | None) -> int:
    seeds = {s.values.shape[0] for s in a.values()}
    if len(seeds) != 1:
        raise ValueError(f"tasks have different numbers of training seeds: {sorted(seeds)}")
    if b is not None:
        if set(a) != set(b):
            raise ValueError(f"paired comparison over different tasks: {sorted(a)} vs {sorted(b)}")
        for task in a:
            if a[task].values.shape != b[task].values.shape:
                raise ValueError(f"{task}: shapes differ ({a[task].values.shape} vs {b[task].values.shape}): "
                                 f"a paired comparison needs the same seeds and items")
            if a[task].labels != b[task].labels:
                raise ValueError(f"{task}: the two conditions were scored on different items")
    return seeds.pop()


def bootstrap(a: dict[str, TaskScores], b: dict[str, TaskScores] | None = None, *, resamples: int = 1000,
              seed: int = 0, level: float = 0.95) -> Interval:
    """The pooled statistic of ``a`` (or of a - b, paired) with a hierarchical percentile interval."""
    n_seeds = _check(a, b)
    rng = np.random.default_rng(seed)
    seed_index = rng.integers(0, n_seeds, (resamples, n_seeds))  # training seeds, with replacement
    stats, point = [], []
    for task in sorted(a):
        n = a[task].values.shape[1]
        counts = rng.multinomial(n, np.full(n, 1 / n), size=(resamples, n_seeds)).astype(float)  # items per seed
        onehot = _onehot(a[task].labels)
        ones, identity = np.ones((1, n_seeds, n)), np.arange(n_seeds)[None]
        stat = _statistic(a[task].values, counts, seed_index, onehot)
        here = _statistic(a[task].values, ones, identity, onehot)
        if b is not None:
            stat = stat - _statistic(b[task].values, counts, seed_index, onehot)
            here = here - _statistic(b[task].values, ones, identity, onehot)
        stats.append(stat)
        point.append(here[0])
    pooled = np.nanmean(np.stack(stats), axis=0)
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(pooled, [tail, 100 - tail])
    return Interval(float(np.mean(point)), float(low), float(high), resamples, n_seeds,
                    {task: int(a[task].values.shape[1]) for task in sorted(a)})


def paired_difference(a: dict[str, TaskScores], b: dict[str, TaskScores], *, resamples: int = 1000,
                      seed: int = 0) -> Interval:
    """a - b on the same items and seeds, with its hierarchical interval and verdict."""
    return bootstrap(a, b, resamples=resamples, seed=seed)
