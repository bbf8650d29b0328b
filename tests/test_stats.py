"""The one function behind every verdict, on synthetic data with a known effect and with none."""
import numpy as np
import pytest

from mats_lib.metrics import balanced_accuracy
from mats_lib.stats import TaskScores, bootstrap, paired_difference, verdict


def draws(p, seeds=3, items=200, seed=0):
    return (np.random.default_rng(seed).random((seeds, items)) < p).astype(float)


def test_a_known_effect_is_found_both_ways():
    rng = np.random.default_rng(0)
    base = (rng.random((3, 300)) < 0.5).astype(float)
    better = np.maximum(base, (rng.random((3, 300)) < 0.3))  # flips ~15% of items to correct
    d = paired_difference({"t": TaskScores(better)}, {"t": TaskScores(base)}, resamples=500, seed=1)
    assert d.verdict == "better" and 0.08 < d.value < 0.22 and d.low > 0
    assert paired_difference({"t": TaskScores(base)}, {"t": TaskScores(better)}, resamples=500, seed=1).verdict == "worse"


def test_no_effect_is_not_distinguishable():
    a, b = draws(0.5, seed=1), draws(0.5, seed=2)  # same distribution, independent answers
    d = paired_difference({"t": TaskScores(a)}, {"t": TaskScores(b)}, resamples=500, seed=0)
    assert d.verdict == "not distinguishable" and d.low < 0 < d.high
    same = paired_difference({"t": TaskScores(a)}, {"t": TaskScores(a)}, resamples=200)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0) and same.verdict == "not distinguishable"


def test_seed_variation_widens_the_interval():
    """Items alone cannot see how much a result moves between training seeds; the hierarchy can."""
    rng = np.random.default_rng(3)
    steady = np.tile((rng.random(200) < 0.6).astype(float), (3, 1))
    shaky = np.stack([(rng.random(200) < p).astype(float) for p in (0.2, 0.6, 0.95)])
    narrow = bootstrap({"t": TaskScores(steady)}, resamples=500)
    wide = bootstrap({"t": TaskScores(shaky)}, resamples=500)
    assert (wide.high - wide.low) > 2 * (narrow.high - narrow.low)


def test_balanced_accuracy_statistic_and_its_constant_answer_floor():
    labels = ["a"] * 80 + ["b"] * 15 + ["c"] * 5  # a majority class of 80%
    correct = np.array([1.0] * 80 + [0.0] * 20)  # always answering "a"
    scores = TaskScores(np.tile(correct, (3, 1)), labels)
    interval = bootstrap({"cls": scores}, resamples=300)
    assert interval.value == pytest.approx(1 / 3) == pytest.approx(balanced_accuracy(correct, labels))
    assert correct.mean() == 0.8  # what accuracy would have called a good score


def test_pooled_is_the_unweighted_mean_of_tasks():
    big = TaskScores(np.ones((2, 500)))
    small = TaskScores(np.zeros((2, 10)))
    assert bootstrap({"big": big, "small": small}, resamples=100).value == 0.5


def test_mismatched_items_are_refused():
    with pytest.raises(ValueError, match="same seeds and items"):
        paired_difference({"t": TaskScores(np.ones((3, 5)))}, {"t": TaskScores(np.ones((2, 5)))})
    with pytest.raises(ValueError, match="different items"):
        paired_difference({"t": TaskScores(np.ones((1, 2)), ["x", "y"])}, {"t": TaskScores(np.ones((1, 2)), ["y", "x"])})


def test_verdict_vocabulary():
    assert verdict(0.01, 0.2) == "better" and verdict(-0.3, -0.01) == "worse" and verdict(-0.1, 0.1) == "not distinguishable"
