"""MiniCLAP's out-of-domain gate: the paired interval decides, and the per-source net-loss cap binds."""
import numpy as np
import pytest

from mats_lib.encoders.miniclap.gate import MAX_NET_LOSS, describe, loso_gate


def _source(n_labels, per_label, rng):
    labels = [f"l{k}" for k in range(n_labels) for _ in range(per_label)]
    return labels, rng.random(len(labels)) < 0.5


def test_no_effect_passes_and_the_interval_straddles_zero():
    rng = np.random.default_rng(0)
    labels, ref = {}, {}
    for s in ("a", "b", "c"):
        labels[s], ref[s] = _source(10, 8, rng)
    gate = loso_gate({s: v.copy() for s, v in ref.items()}, ref, labels, seed=0)
    low, high = gate["pooled_delta"]["ci95"]
    assert gate["pass"] and gate["pooled_delta"]["value"] == 0 and low <= 0 <= high
    assert gate["worst_net_loss"] == 0


def test_a_clear_pooled_loss_fails_on_the_interval():
    rng = np.random.default_rng(1)
    labels, ref, cand = {}, {}, {}
    for s in ("a", "b", "c", "d", "e"):
        labels[s], _ = _source(10, 8, rng)
        ref[s] = np.ones(80, bool)
        cand[s] = ref[s].copy()
        cand[s][rng.choice(80, 15, replace=False)] = False  # 15 of 80 lost in every source: under the cap
    gate = loso_gate(cand, ref, labels, seed=0)
    assert gate["sources_pass"] and not gate["pooled_pass"] and not gate["pass"]
    assert gate["pooled_delta"]["ci95"][1] < 0 and gate["pooled_delta"]["verdict"] == "worse"


def test_the_cap_on_one_source_two_of_ten_pass_three_do_not():
    labels = {"animals": [f"a{k}" for k in range(10)], "big": [f"b{k % 20}" for k in range(400)]}
    ref = {"animals": np.ones(10, bool), "big": np.zeros(400, bool)}
    for lost, expected in ((2, True), (3, False)):
        cand = {"animals": np.r_[np.zeros(lost, bool), np.ones(10 - lost, bool)],
                "big": np.r_[np.ones(40, bool), np.zeros(360, bool)]}  # a large gain elsewhere pools above 0
        gate = loso_gate(cand, ref, labels, seed=0)
        assert gate["pooled_pass"]
        assert gate["sources"]["animals"]["net_loss"] == pytest.approx(lost / 10)
        assert gate["sources_pass"] is expected and gate["pass"] is expected
        assert gate["worst_source"] == "animals" and ("pass" if expected else "FAIL") in describe(gate)
    assert MAX_NET_LOSS == 0.2


def test_gains_offset_losses_within_a_source_and_the_seed_fixes_the_interval():
    labels = {"s": [f"l{k}" for k in range(10)]}
    ref = {"s": np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)}
    cand = {"s": np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], bool)}  # 3 lost, 3 gained: net 0
    gate = loso_gate(cand, ref, labels, seed=3)
    assert gate["sources"]["s"]["net_loss"] == 0 and gate["sources_pass"]
    assert loso_gate(cand, ref, labels, seed=3)["pooled_delta"] == gate["pooled_delta"]


def test_mismatched_clips_are_refused():
    with pytest.raises(ValueError, match="different clips"):
        loso_gate({"s": np.ones(3, bool)}, {"s": np.ones(4, bool)}, {"s": ["a", "b", "c"]})
