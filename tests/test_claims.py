"""The claim rules, on hand-made comparisons: each verdict is reachable and follows the intervals."""
from mats_lib.analysis.claims import c1_above_chance, c2_ordering, c7_competitive


def d(low, high):
    from mats_lib.stats import verdict

    return {"classification": {"value": (low + high) / 2, "ci95": [low, high], "verdict": verdict(low, high)}}


def table(santa_noise=(0.01, 0.1), noise_raw=(0.01, 0.1), santa_memory=(0.01, 0.1), santa_const=(0.1, 0.2),
          santa_audio=(-0.03, 0.02)):
    return {"differences": {"santa": d(*santa_noise)}, "versus_constant": {"santa": d(*santa_const)},
            "pairs": {"noise - raw": d(*noise_raw), "santa - memory": d(*santa_memory), "santa - MATS-Audio": d(*santa_audio)}}


def test_c1():
    assert c1_above_chance(table())["verdict"] == "reproduced"
    assert c1_above_chance(table(santa_const=(-0.1, 0.1)))["verdict"] == "inconclusive"
    assert c1_above_chance(table(santa_const=(-0.2, -0.1)))["verdict"] == "not reproduced"


def test_c2_needs_every_step():
    assert c2_ordering(table())["verdict"] == "reproduced"
    assert c2_ordering(table(noise_raw=(-0.05, 0.05)))["verdict"] == "inconclusive"
    assert c2_ordering(table(santa_memory=(-0.2, -0.01)))["verdict"] == "not reproduced"
    missing = table()
    del missing["pairs"]["noise - raw"]
    assert c2_ordering(missing)["verdict"] == "inconclusive" and "not run" in c2_ordering(missing)["evidence"]


def test_c7_competitive_within_the_margin():
    assert c7_competitive(table())["verdict"] == "reproduced"
    assert c7_competitive(table(santa_audio=(-0.3, -0.1)))["verdict"] == "not reproduced"
    assert c7_competitive(table(santa_audio=(-0.2, 0.1)))["verdict"] == "inconclusive"
