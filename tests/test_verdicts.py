"""The declared tests decided on constructed inputs: each rule, the floor, fragility, C3, C5, C8."""
import numpy as np
import pytest

from mats_lib.analysis import declaration, item_table
from mats_lib.study.item_rows import write_item_table
from mats_lib.analysis.rules import decide, non_inferiority, superiority
from mats_lib.analysis.verdicts import (decide_bound, decide_comparison_test, decide_cost, decide_gap,
                                        within_encoder_spearman)

DECLARED = declaration.load()
TESTS = DECLARED["tests"]


def rows_for(condition, task, correct, *, encoder="enc", kind="classification", labels=None, seeds=3):
    """Item-table rows: ``correct`` [items] or [seeds, items]."""
    correct = np.broadcast_to(np.asarray(correct, float), (seeds, np.shape(correct)[-1]))
    labels = labels or [f"c{i % 4}" for i in range(correct.shape[1])]
    return [{"encoder": encoder, "condition": condition, "training_seed": s, "task": task, "kind": kind, "item": i,
             "audio_id": f"{task}/{i}.wav", "reference": labels[i], "score": float(correct[s, i]), "prediction": "x"}
            for s in range(correct.shape[0]) for i in range(correct.shape[1])]


def test_the_declaration_names_one_primary_per_test_and_its_timing():
    assert DECLARED["written_after_first_mini_numbers"] is True and DECLARED["commit"] and DECLARED["declared"]
    assert {t["claim"] for t in TESTS.values()} == {f"C{i}" for i in range(1, 9)}
    for name, test in TESTS.items():
        assert test["rule"] in ("superiority", "non_inferiority") and test["primary"]["direction"] in ("higher", "lower")
    assert TESTS["C7"]["margin"] == 0.05 and TESTS["C3"]["sesoi"] > 0
    assert declaration.min_items("mini") == 20 and declaration.min_items("smoke") == 1


def test_a_malformed_declaration_is_refused_naming_the_test():
    bad = {"defaults": {}, "tests": {"X": {"claim": "C1", "paper": "", "scope": "", "rule": "superiority",
                                           "primary": {"a": "x", "b": "y", "direction": "up"}}}}
    with pytest.raises(declaration.DeclarationError, match="X.primary.direction"):
        declaration.check(bad)


def test_c7_non_inferiority_straddling_the_margin_is_inconclusive():
    assert non_inferiority(-0.132, -0.038, 0.05).verdict == "inconclusive"
    assert decide(TESTS["C7"], -0.132, -0.038).verdict == "inconclusive"
    assert decide(TESTS["C7"], -0.04, 0.02).verdict == "reproduced"
    assert decide(TESTS["C7"], -0.2, -0.06).verdict == "not reproduced"


def test_superiority_and_the_smallest_effect_of_interest():
    assert superiority(0.01, 0.2).verdict == "reproduced"
    assert superiority(-0.2, -0.01).verdict == "not reproduced"
    assert superiority(-0.1, 0.1).verdict == "inconclusive"
    small = superiority(0.005, 0.03, sesoi=0.05)
    assert small.verdict == "not reproduced" and small.qualifiers == ["negligible"]
    # a lower statistic supports the claim: the interval is turned around
    assert decide({"rule": "superiority", "primary": {"direction": "lower"}}, -0.3, -0.1).verdict == "reproduced"


def test_c2_carried_by_one_task_is_fragile():
    rng = np.random.default_rng(0)
    base = [(rng.random(40) < 0.5).astype(float) for _ in range(3)]
    rows = []
    for k, b in enumerate(base):
        task = f"cls_{k}"
        better = np.ones(40) if k == 0 else b  # only task 0 gains, and by a lot
        rows += rows_for("noise", task, b) + rows_for("santa", task, better)
    out = decide_comparison_test("C2a", TESTS["C2a"], rows, "enc", "mini", resamples=400)
    assert out["verdict"] == "reproduced" and "fragile" in out["qualifiers"]
    assert out["leave_one_task_out"]["cls_0"] != "reproduced"
    assert "cls_0" in out["evidence"]


def test_a_task_under_the_minimum_size_is_shown_never_pooled():
    rows = rows_for("noise", "cls_big", np.zeros(40)) + rows_for("santa", "cls_big", np.zeros(40))
    rows += rows_for("noise", "cls_tiny", np.zeros(8)) + rows_for("santa", "cls_tiny", np.ones(8))
    out = decide_comparison_test("C2a", TESTS["C2a"], rows, "enc", "mini", resamples=200)
    interval = out["intervals"]["noise"]
    assert interval["excluded_tasks"] == ["cls_tiny"] and interval["value"] == pytest.approx(0.0)
    assert interval["per_task"]["cls_tiny"] == pytest.approx(1.0) and out["verdict"] != "reproduced"


def test_the_floor_gate_and_secondaries_never_flip_the_primary():
    rng = np.random.default_rng(1)
    noisy = lambda p: (rng.random((3, 40)) < p).astype(float)  # noqa: E731
    rows = []
    for condition, p in (("santa@lam=0.3", 0.3), ("santa@noise_variance=0", 0.1), ("constant", 0.3)):
        rows += rows_for(condition, "caption_x", noisy(p) if condition != "constant" else np.full(40, 0.3),
                         kind="caption")
    rows += rows_for("santa@lam=0.3", "cls_a", np.ones(40)) + rows_for("santa@noise_variance=0", "cls_a", np.zeros(40))
    out = decide_comparison_test("C6a", TESTS["C6a"], rows, "enc", "mini", resamples=300)
    assert out["verdict"] == "inconclusive" and out["qualifiers"] == ["at the floor"]
    [secondary] = out["secondaries"]
    assert secondary["interval"]["verdict"] == "better" and "p_holm" in secondary  # reported, not deciding


def test_c1_per_kind_and_the_top_answer_share():
    rows = rows_for("santa", "qa_x", np.ones(30), kind="qa") + rows_for("question_prior", "qa_x", np.zeros(30), kind="qa")
    assert decide_comparison_test("C1c", TESTS["C1c"], rows, "enc", "mini", resamples=200)["verdict"] == "reproduced"
    assert decide_comparison_test("C1a", TESTS["C1a"], rows, "enc", "mini", resamples=200)["why"].startswith("santa - constant")
    rows[0]["prediction"] = "y"
    assert item_table.top_answer_share(rows, "enc", "santa", "qa") == pytest.approx(89 / 90)


def test_c3_a_move_inside_the_smallest_effect_is_negligible():
    rng = np.random.default_rng(2)
    audio = rng.normal(0.26, 0.05, 300)
    gap = {"paired_cosine": {"audio": audio.tolist(), "santa": (audio + 0.01 + rng.normal(0, 0.01, 300)).tolist()}}
    out = decide_gap(TESTS["C3"], gap, "e", resamples=300)
    assert out["verdict"] == "not reproduced" and out["qualifiers"] == ["negligible"]
    gap["paired_cosine"]["santa"] = (audio + 0.2).tolist()
    assert decide_gap(TESTS["C3"], gap, "e", resamples=300)["verdict"] == "reproduced"


def test_c3_inputs_measure_every_side_against_the_same_clean_text():
    from mats_lib.analysis.modality_gap import clean_text_gap, mmd2_unbiased

    rng = np.random.default_rng(7)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    text = unit(rng.normal(size=(60, 8)))
    sides = {"audio": unit(text + rng.normal(0, 2, (60, 8))), "santa": unit(text + rng.normal(0, 0.3, (60, 8)))}
    gap = clean_text_gap(text, sides, resamples=50)
    assert len(gap["paired_cosine"]["santa"]) == 60 and np.mean(gap["paired_cosine"]["santa"]) > np.mean(gap["paired_cosine"]["audio"])
    assert gap["differences"]["santa"]["mmd2_unbiased"]["ci95"][1] < 0  # Santa's side is surely closer
    assert abs(mmd2_unbiased(text, text[rng.permutation(60)], 1.0)) < 0.05  # same sample: near 0, unlike the biased one
    out = decide_gap(TESTS["C3"], gap, "e", resamples=200)
    assert out["verdict"] == "reproduced" and {r["comparison"].split(",")[0] for r in out["secondaries"]} == {
        "centroid_distance", "mmd2_unbiased"} and all("p_holm" in r for r in out["secondaries"])


def test_c5_encoders_at_different_levels_without_a_within_encoder_relation_are_not_reproduced():
    rng = np.random.default_rng(3)
    points = []
    for encoder, level in (("low", 0.2), ("high", 1.0)):
        for k in range(7):
            for seed in range(3):  # seeds repeat the same discrepancy: they must not count as points
                points.append({"encoder": encoder, "transfer": "santa", "lam": 0.1 * (k + 1), "seed": seed,
                               "label_paired_distance": level + 0.01 * rng.normal(), "mmd2_rbf": level,
                               "wasserstein1": level, "proxy_a_distance": 2.0, "test_error": level + 0.05 * rng.normal()})
    pooled_rho = np.corrcoef([p["label_paired_distance"] for p in points], [p["test_error"] for p in points])[0, 1]
    assert pooled_rho > 0.9  # pooling the encoders would have "found" the relation
    out = decide_bound(TESTS["C5"], points, resamples=300)
    assert out["verdict"] != "reproduced"
    assert out["primary_statistic"]["points"] == {"high": 7, "low": 7}
    assert "vacuous" in out["evidence"]


def test_c5_a_within_encoder_dose_response_is_reproduced_and_lambda_zero_is_not_a_point():
    points = [{"encoder": e, "transfer": "santa", "lam": lam, "label_paired_distance": lam, "test_error": lam + off}
              for e, off in (("a", 0.0), ("b", 0.5)) for lam in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)]
    points += [{"encoder": e, "transfer": "plain", "lam": None, "label_paired_distance": -1, "test_error": -1}
               for e in ("a", "b")]
    r = within_encoder_spearman(points, "label_paired_distance", resamples=200)
    assert r["points"] == {"a": 7, "b": 7} and r["rho"] == pytest.approx(1.0)
    assert decide_bound(TESTS["C5"], points, resamples=200)["verdict"] == "reproduced"


def test_c8_fails_when_text_only_is_not_cheaper_end_to_end():
    def samples(text_embed, audio_embed, step_text, step_audio, seed=0):
        rng = np.random.default_rng(seed)
        out = []
        for mode, embed, step in (("text", text_embed, step_text), ("audio", audio_embed, step_audio)):
            out += [{"mode": mode, "component": "embed", "seconds_per_sample": embed * (1 + 0.02 * rng.normal())}
                    for _ in range(5)]
            out += [{"mode": mode, "component": "step", "seconds_per_sample": step * (1 + 0.02 * rng.normal())}
                    for _ in range(20)]
        return out

    # audio embedding costs more, but the text-only step is slower: end to end, text is not cheaper
    assert decide_cost(TESTS["C8"], samples(0.001, 0.004, 0.2, 0.19), "cpu")["verdict"] == "not reproduced"
    assert decide_cost(TESTS["C8"], samples(0.001, 0.05, 0.19, 0.19), "cpu")["verdict"] == "reproduced"
    # a text / audio difference far inside the steps' spread decides nothing
    noisy, rng = samples(0.003, 0.004, 0.19, 0.19), np.random.default_rng(9)
    for s in noisy:
        s["seconds_per_sample"] *= 1 + 0.3 * rng.normal() if s["component"] == "step" else 1
    assert decide_cost(TESTS["C8"], noisy, "cpu")["verdict"] == "inconclusive"


def test_item_table_round_trip_is_byte_stable(tmp_path):
    rows = rows_for("santa", "cls_a", np.ones(5)) + rows_for("noise", "cls_a", np.zeros(5))
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    write_item_table(a, rows)
    write_item_table(b, list(reversed(rows)))
    assert a.read_bytes() == b.read_bytes()
    back = item_table.read(a)
    assert len(back) == 30 and back[0]["score"] in (0.0, 1.0)
    assert item_table.scores(back, "enc", "santa", "classification")["cls_a"].values.shape == (3, 5)


def test_compare_reports_allows_the_documented_flips_and_no_more(tmp_path):
    from mats_lib.cli.compare_reports import main

    rows = rows_for("santa", "cls_a", np.ones(300))
    committed, regenerated = tmp_path / "committed", tmp_path / "regenerated"
    write_item_table(committed / "items-benchmark_tables.csv.gz", rows)
    subset = [dict(r) for r in rows if r["training_seed"] == 0]  # a cold subset: one run
    subset[0]["score"] = 0.0  # one near-tie flip in 300
    write_item_table(regenerated / "items-benchmark_tables.csv.gz", subset)
    assert main([str(committed), str(regenerated)]) == 0
    for r in subset[1:4]:
        r["prediction"] = "another answer"
    write_item_table(regenerated / "items-benchmark_tables.csv.gz", subset)
    assert main([str(committed), str(regenerated)]) == 1  # 4 of 300 > 0.5%
    result = item_table.compare(rows, subset)
    assert result["differing"] == 4 and result["shared"] == 300 and not result["agree"]


def test_component_intervals_hold_their_means():
    from mats_lib.analysis.verdicts import component_intervals

    rng = np.random.default_rng(4)
    samples = [{"mode": m, "component": c, "seconds_per_sample": float(rng.normal(0.2 if c == "step" else 0.01, 0.01))}
               for m in ("text", "audio") for c in ("embed", "step") for _ in range(12)]
    out = component_intervals(samples)
    for parts in out.values():
        for mean, low, high in parts.values():
            assert low < mean < high
    assert out["text"]["step"][0] > out["text"]["embed"][0]
