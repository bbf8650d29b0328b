"""Paired comparisons that decide: a bootstrap that follows the study's design, and one verdict.

The design is crossed: every training seed (a run) is scored on the same items of a task, and two conditions
are compared on those same runs and items. One bootstrap resample therefore draws

- the training seeds with replacement (once, shared by every task: a seed is one run), and
- per task, one draw of its items with replacement, shared by every resampled seed and by both conditions

(Owen 2007, "The pigeonhole bootstrap"; drawing items anew for each resampled seed would divide the item
variance by up to the number of seeds). With few seeds the resample understates the seed component by
(seeds - 1) / seeds, as any bootstrap of a small sample does: 5 seeds and a seed effect as large as the items'
cover about 91% for a nominal 95% (tests/test_stats.py). Test-time draws (noise, Santa's noise) are averaged per item over the
evaluation seeds before resampling.

The statistic of a task is a fixed-weight mean of its items, the weights frozen from the full item set: 1/n
each for a plain mean; 1 / (classes x the size of the item's class) for balanced accuracy, which on the full
set equals balanced accuracy exactly and in a resample never drops a class from its denominator (a resample
may weigh a class more or less, but its expectation is the full-set value). Being linear in the values, the
statistic of a paired difference is the difference of the statistics.

Tasks are pooled by a declared weighting: ``"tasks"`` (each task counts once, whatever its size; tasks under
``min_items`` are left out of the pool) or ``"items"`` (each task by its number of items).

    d = paired_difference({"cls": a}, {"cls": b}, resamples=1000, seed=0)
    d.verdict  # "better" | "worse" | "not distinguishable"
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VERDICTS = ("better", "worse", "not distinguishable")
POOLINGS = ("tasks", "items")


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

    @property
    def n_items(self) -> int:
        return self.values.shape[1]

    def weights(self) -> np.ndarray:
        """The items' fixed weights (summing to 1): the task's statistic is ``values @ weights`` per seed."""
        return item_weights(self.labels, self.n_items)


def item_weights(labels: list[str] | None, n: int) -> np.ndarray:
    """1/n per item, or for balanced accuracy 1 / (classes x the item's class size): macro recall as a mean."""
    if labels is None:
        return np.full(n, 1.0 / n)
    _, index, sizes = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    return 1.0 / (len(sizes) * sizes[index])


@dataclass
class Interval:
    value: float
    low: float
    high: float
    resamples: int
    seeds: int
    items: dict[str, int] = field(default_factory=dict)
    p_value: float = 1.0  # two-sided, from the bootstrap distribution (for Holm within a claim)
    pooling: str = "tasks"
    excluded: list[str] = field(default_factory=list)  # tasks left out of the pool (under the minimum size)
    per_task: dict[str, float] = field(default_factory=dict)  # each task's point value

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)

    def as_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high], "verdict": self.verdict, "p_value": self.p_value,
                "resamples": self.resamples, "training_seeds": self.seeds, "items": self.items,
                "pooling": self.pooling, "excluded_tasks": self.excluded, "per_task": self.per_task}

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


def _check(a: dict[str, TaskScores], b: dict[str, TaskScores] | None) -> int:
    if not a:
        raise ValueError("no tasks to compare")
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


def pool_weights(items: dict[str, int], pooling: str = "tasks", min_items: int = 0) -> dict[str, float]:
    """{task: its weight in the pool} (summing to 1) under a declared weighting; tasks left out are absent."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}: one of {POOLINGS}")
    kept = {t: n for t, n in items.items() if n >= min_items}
    if not kept:
        raise ValueError(f"no task has at least {min_items} items ({items}): nothing can carry the pooled statistic")
    total = sum(kept.values()) if pooling == "items" else len(kept)
    return {t: (n if pooling == "items" else 1) / total for t, n in kept.items()}


def two_sided_p(draws: np.ndarray) -> float:
    """The bootstrap's two-sided p-value for "the statistic is 0": twice the smaller tail beyond 0."""
    draws = draws[np.isfinite(draws)]
    n = len(draws)
    below, above = (1 + np.sum(draws <= 0)) / (n + 1), (1 + np.sum(draws >= 0)) / (n + 1)
    return float(min(1.0, 2 * min(below, above)))


def crossed_draws(values: np.ndarray, weights: np.ndarray, seed_counts: np.ndarray, item_counts: np.ndarray) -> np.ndarray:
    """[R] bootstrap statistics of one task: values [S, N] (a condition, or a paired difference), weights [N],
    seed_counts [R, S] (how often each training seed was drawn), item_counts [R, N] (one item draw per resample,
    shared by every drawn seed)."""
    per_item = seed_counts @ values / seed_counts.sum(1, keepdims=True)  # [R, N]: mean over the drawn seeds
    return (item_counts * per_item) @ weights


def bootstrap(a: dict[str, TaskScores], b: dict[str, TaskScores] | None = None, *, resamples: int = 1000,
              seed: int = 0, level: float = 0.95, pooling: str = "tasks", min_items: int = 0) -> Interval:
    """The pooled statistic of ``a`` (or of a - b, paired) with its crossed-design percentile interval."""
    n_seeds = _check(a, b)
    items = {task: a[task].n_items for task in sorted(a)}
    weights = pool_weights(items, pooling, min_items)
    rng = np.random.default_rng(seed)
    seed_counts = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=resamples).astype(float)
    pooled, point, per_task = np.zeros(resamples), 0.0, {}
    for task in sorted(a):  # every task draws its items, pooled or not, so a task's draw never depends on the pool
        n = items[task]
        item_counts = rng.multinomial(n, np.full(n, 1 / n), size=resamples).astype(float)
        values = a[task].values - (b[task].values if b is not None else 0.0)
        w = a[task].weights()
        here = float(values.mean(0) @ w)
        per_task[task] = here
        if task in weights:
            pooled += weights[task] * crossed_draws(values, w, seed_counts, item_counts)
            point += weights[task] * here
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(pooled, [tail, 100 - tail])
    return Interval(float(point), float(low), float(high), resamples, n_seeds, items,
                    p_value=two_sided_p(pooled) if b is not None else 1.0, pooling=pooling,
                    excluded=sorted(set(items) - set(weights)), per_task=per_task)


def paired_difference(a: dict[str, TaskScores], b: dict[str, TaskScores], *, resamples: int = 1000, seed: int = 0,
                      pooling: str = "tasks", min_items: int = 0) -> Interval:
    """a - b on the same items and seeds, with its crossed-design interval and verdict."""
    return bootstrap(a, b, resamples=resamples, seed=seed, pooling=pooling, min_items=min_items)


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (step-down, monotone), for the secondary comparisons within one claim."""
    order = sorted(p_values, key=p_values.get)
    m, running, out = len(order), 0.0, {}
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        out[name] = running
    return out
