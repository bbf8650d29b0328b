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
    assert bootstrap({"big": big, "small": small}, resamples=100).value == pytest.approx(0.5)


def test_mismatched_items_are_refused():
    with pytest.raises(ValueError, match="same seeds and items"):
        paired_difference({"t": TaskScores(np.ones((3, 5)))}, {"t": TaskScores(np.ones((2, 5)))})
    with pytest.raises(ValueError, match="different items"):
        paired_difference({"t": TaskScores(np.ones((1, 2)), ["x", "y"])}, {"t": TaskScores(np.ones((1, 2)), ["y", "x"])})


def test_verdict_vocabulary():
    assert verdict(0.01, 0.2) == "better" and verdict(-0.3, -0.01) == "worse" and verdict(-0.1, 0.1) == "not distinguishable"


# ------------------------------------------------------------------------------------------ the crossed design
def test_one_item_draw_is_shared_by_every_seed():
    """Items that vary but seeds that agree: the spread of the mean is the items' alone, sd/sqrt(n), whatever
    the number of seeds (drawing items anew per seed would shrink it by sqrt(seeds))."""
    rng = np.random.default_rng(4)
    item_effect = rng.normal(0, 1, 80)
    values = np.tile(item_effect, (5, 1))  # 5 seeds, identical
    draws = []
    for s in range(40):
        i = bootstrap({"t": TaskScores(values)}, resamples=400, seed=s)
        draws.append((i.high - i.low) / (2 * 1.96))
    expected = item_effect.std() / np.sqrt(80)
    assert np.mean(draws) == pytest.approx(expected, rel=0.1)


def test_balanced_accuracy_interval_holds_its_point_with_many_small_classes():
    """A desktop-like task, 44 items over 38 classes: the fixed weights keep the bootstrap centred on the point."""
    rng = np.random.default_rng(5)
    labels = [f"c{i}" for i in range(38)] + [f"c{i}" for i in range(6)]
    correct = (rng.random((3, 44)) < 0.3).astype(float)
    scores = TaskScores(correct, labels)
    interval = bootstrap({"desk": scores}, resamples=2000, seed=0)
    assert interval.value == pytest.approx(np.mean([balanced_accuracy(c, labels) for c in correct]))
    assert interval.low < interval.value < interval.high
    # the weights freeze the classes: the resampled statistic's mean is the point (no class drops out)
    assert abs((interval.low + interval.high) / 2 - interval.value) < 0.03


def test_coverage_of_no_effect_under_a_seed_by_item_interaction():
    """Design: 200 repeats of 5 training seeds x 60 items; the paired difference d[s, i] = item effect (sd 1)
    + seed effect (sd 0.15) + seed x item interaction (sd 0.5), all of mean 0, so the true difference is 0.
    The 95% intervals should cover 0 in 90-99% of repeats (0.937 over 1000 repeats of this design). With 5 seeds
    the bootstrap understates the seed component by (5-1)/5; where seed effects are as large as the items'
    (seed sd 0.3 here) coverage falls to about 0.91: the module docstring says so."""
    rng = np.random.default_rng(6)
    covered = 0
    for repeat in range(200):
        d = rng.normal(0, 1, (1, 60)) + rng.normal(0, 0.15, (5, 1)) + rng.normal(0, 0.5, (5, 60))
        i = paired_difference({"t": TaskScores(d)}, {"t": TaskScores(np.zeros_like(d))}, resamples=300, seed=repeat)
        covered += i.low <= 0 <= i.high
    assert 0.90 <= covered / 200 <= 0.99


def test_declared_pooling():
    big, small = TaskScores(np.ones((2, 60))), TaskScores(np.zeros((2, 10)))
    assert bootstrap({"big": big, "small": small}, resamples=50, pooling="items").value == pytest.approx(60 / 70)
    only_big = bootstrap({"big": big, "small": small}, resamples=50, min_items=20)
    assert only_big.value == pytest.approx(1.0) and only_big.excluded == ["small"]
    assert only_big.per_task == pytest.approx({"big": 1.0, "small": 0.0})
    with pytest.raises(ValueError, match="at least 100 items"):
        bootstrap({"big": big}, resamples=10, min_items=100)


def test_holm_is_step_down_and_monotone():
    from mats_lib.stats import holm

    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
