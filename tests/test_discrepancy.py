"""The discrepancy estimators and the rank correlation behind C5, on synthetic samples."""
import numpy as np

from mats_lib.analysis.claims import c5_discrepancy_orders_errors
from mats_lib.analysis.discrepancy import discrepancies, rank_correlations, shared_gamma


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_estimators_grow_with_the_shift():
    rng = np.random.default_rng(0)
    base = unit(rng.normal(size=(200, 16)))
    same = unit(rng.normal(size=(200, 16)))
    shift = np.zeros(16)
    shift[0] = 3.0
    far = unit(rng.normal(size=(200, 16)) + shift)
    gamma = shared_gamma(base, same)
    near_d, far_d = discrepancies(base, same, gamma), discrepancies(base, far, gamma)
    for name in near_d:
        assert far_d[name] > near_d[name], name
    assert near_d["proxy_a_distance"] < 0.5 and far_d["proxy_a_distance"] > 1.5  # 0: indistinguishable, 2: separable


def test_rank_correlation_and_c5():
    rng = np.random.default_rng(1)
    points = []
    for i in range(30):
        d = i / 30
        points.append({"test_error": d + rng.normal(0, 0.05), "proxy_a_distance": d, "mmd2_rbf": d ** 2,
                       "wasserstein1": -d})
    corr = rank_correlations(points, resamples=300)
    assert corr["proxy_a_distance"]["verdict"] == "better" and corr["wasserstein1"]["verdict"] == "worse"
    assert c5_discrepancy_orders_errors(corr)["verdict"] == "inconclusive"  # one estimator disagrees
    corr["wasserstein1"] = {**corr["wasserstein1"], "verdict": "not distinguishable"}
    assert c5_discrepancy_orders_errors(corr)["verdict"] == "reproduced"  # two of three order the errors, none against
    constant = rank_correlations([{**p, "test_error": 0.5} for p in points], resamples=50)
    assert constant["mmd2_rbf"]["rho"] is None and "constant" in constant["mmd2_rbf"]["note"]
    assert c5_discrepancy_orders_errors(constant)["verdict"] == "inconclusive"
