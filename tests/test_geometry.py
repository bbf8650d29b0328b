"""The modality-gap geometry: its statistics on constructed points, then the smoke preset end to end."""
import numpy as np
import pytest

from mats_lib.study.geometry import encoder_geometry, plot
from mats_lib.santa import TRANSFERS
from mats_lib.analysis.geometry import (explained_by, spread, to_markdown,
                                        top_energy)
from mats_lib.config import load_config


def test_explained_share_spread_and_top_energy_on_constructed_points():
    rng = np.random.default_rng(0)
    shared = np.tile([1.0, 0, 0, 0], (100, 1))
    assert explained_by(shared, shared.mean(0)) == pytest.approx(1.0)  # one vector for every pair
    cancelling = rng.normal(size=(100, 4))
    cancelling -= cancelling.mean(0)
    assert explained_by(cancelling, cancelling.mean(0)) == pytest.approx(0.0, abs=1e-12)
    assert spread(np.tile([0.0, 1, 0], (5, 1))) == pytest.approx(0.0)
    assert spread(np.eye(4)) == pytest.approx(np.sqrt(0.75))  # the corners' distance to (1/4, 1/4, 1/4, 1/4)
    axis = np.eye(8)[:1]
    along = np.outer(rng.normal(size=50), axis[0])
    assert top_energy(along, axis) == pytest.approx(1.0)
    isotropic = rng.normal(size=(20000, 8))
    assert top_energy(isotropic, axis) == pytest.approx(1 / 8, abs=0.01)


def test_smoke_geometry_measures_each_transfer_against_the_noise_ball(tmp_cache):
    cfg = load_config("smoke")
    t = encoder_geometry(cfg, n_pairs=40, resamples=20)
    assert set(t["transfers"]) == set(TRANSFERS) and t["pairs"] == 40
    # the ball's radius follows from the variance: cos(noisy, clean) ~ 1/sqrt(1 + d var)
    cos = 1 / np.sqrt(1 + t["dim"] * t["noise_variance"])
    assert t["noise_ball"]["radius"]["value"] == pytest.approx(np.sqrt(2 - 2 * cos), rel=0.05)
    for r in t["transfers"].values():
        for stat in ("paired_cosine", "inside_ball", "retrieval_r1"):
            low, high = r[stat]["ci95"]
            assert low <= r[stat]["value"] <= high and -1 <= low and high <= 1
    # noise added to audio only moves it further from its text than audio as is
    assert t["transfers"]["added_noise"]["paired_cosine"]["value"] < t["transfers"]["plain"]["paired_cosine"]["value"]
    assert 0 < t["offset"]["pairs"] and 0 < t["offset"]["norm"] < 2
    assert len(t["distances"]["noise_ball"]) == len(t["distances"]["mean_shift"]) == 40  # the figure's data
    text = to_markdown({"tagclap": t}, "cmd")
    assert "| tagclap | mean_shift |" in text and "`cmd`" in text
    figure = plot({"tagclap": t})
    assert [a.get_xlabel() for a in figure.axes] == ["distance to the paired text embedding"]
