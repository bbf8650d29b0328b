"""Each declared test (``claims.yaml``) decided from the committed inputs alone.

Comparison tests (C1, C2, C4, C6, C7) read the per-item table: the primary's paired difference under the
crossed bootstrap (``mats_lib.stats``), pooled as declared, with the rule of the test; a leave-one-task-out
table (a verdict that flips when one pooled task is left out is *fragile*); the floor gate where declared; the
secondaries with Holm-adjusted p-values, reported and never flipping the primary. C3 reads the per-clip gap
table, C5 the discrepancy points, C8 the raw timing samples.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..stats import Interval, TaskScores, holm, paired_difference, pool_weights
from . import declaration, item_table
from .rules import Decision, all_of, at_the_floor, decide


def _fmt(interval: Interval | dict | None, digits: int = 3) -> str:
    if interval is None:
        return "not run"
    value, (low, high) = (interval.value, (interval.low, interval.high)) if isinstance(interval, Interval) else \
        (interval["value"], interval["ci95"])
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


# ------------------------------------------------------------------------------------------ comparisons
def comparison(rows: list[dict], encoder: str, a: str, b: str, kind: str, *, min_items: int, pooling: str,
               resamples: int, seed: int, drop: str | None = None) -> tuple[Interval | None, str]:
    """(the paired interval of a - b on their common tasks of ``kind``, or None with the reason)."""
    sa, sb = item_table.scores(rows, encoder, a, kind), item_table.scores(rows, encoder, b, kind)
    common = sorted((set(sa) & set(sb)) - {drop})
    if not common:
        missing = [c for c, s in ((a, sa), (b, sb)) if not s]
        return None, f"not run ({', '.join(missing) or 'no common task'})"
    try:
        pool_weights({t: sa[t].n_items for t in common}, pooling, min_items)
    except ValueError as error:
        return None, str(error)
    return paired_difference({t: sa[t] for t in common}, {t: sb[t] for t in common}, resamples=resamples, seed=seed,
                             pooling=pooling, min_items=min_items), ""


def _settings(preset: str, declared: dict, resamples: int, seed: int) -> dict:
    d = declared["defaults"]
    return {"min_items": declaration.min_items(preset, declared), "pooling": d["pooling"], "resamples": resamples,
            "seed": seed}


def _at_floor(rows, encoder, condition: str, kind: str, declared, settings) -> tuple[bool, str]:
    """(whether ``condition`` is not surely better than the constant baseline of ``kind``'s metric, the evidence)."""
    floor = declared["floors"][kind]
    interval, why = comparison(rows, encoder, condition, floor, kind, **settings)
    if interval is None:
        return True, f"floor: {why}"
    return interval.verdict != "better", f"{condition} - {floor} {_fmt(interval)}"


def decide_comparison_test(name: str, test: dict, rows: list[dict], encoder: str, preset: str, *,
                           declared: dict | None = None, resamples: int = 1000, seed: int = 0) -> dict:
    declared = declared or declaration.load()
    settings = _settings(preset, declared, resamples, seed)
    p = test["primary"]
    bs = p["b"] if isinstance(p["b"], list) else [p["b"]]
    intervals, reasons = {}, []
    for b in bs:
        intervals[b], why = comparison(rows, encoder, p["a"], b, p["kind"], **settings)
        if why:
            reasons.append(f"{p['a']} - {b}: {why}")
    out = {"test": name, "claim": test["claim"], "scope": encoder, "test_scope": test["scope"],
           "primary": declaration.describe(p), "rule": test["rule"]}
    if reasons:
        return {**out, "verdict": "inconclusive", "qualifiers": [], "why": "; ".join(reasons),
                "evidence": "; ".join(reasons), "intervals": {}}
    decision = _combine([decide(test, iv.low, iv.high) for iv in intervals.values()])
    pooled = sorted({t for iv in intervals.values() for t in iv.per_task if t not in iv.excluded})
    loto = {}
    if len(pooled) >= 2:
        for task in pooled:
            left = [comparison(rows, encoder, p["a"], b, p["kind"], drop=task, **settings)[0] for b in bs]
            loto[task] = ("not run" if any(iv is None for iv in left)
                          else _combine([decide(test, iv.low, iv.high) for iv in left]).verdict)
        if any(v != decision.verdict for v in loto.values()):
            decision.qualifiers = sorted(set(decision.qualifiers) | {"fragile"})
    floor_note = ""
    if test.get("floor"):
        at_floor, floor_note = _at_floor(rows, encoder, p["a"], p["kind"], declared, settings)
        if at_floor:
            decision = at_the_floor(decision)
    secondaries = _secondaries(test, rows, encoder, declared, settings)
    evidence = "; ".join(f"{p['a']} - {b} {_fmt(iv)}" for b, iv in intervals.items())
    first = next(iter(intervals.values()))
    if first.excluded:
        evidence += f" (not pooled, under {settings['min_items']} items: {', '.join(first.excluded)})"
    if loto:
        flips = [t for t, v in loto.items() if v != decision.verdict and "at the floor" not in decision.qualifiers]
        evidence += f"; without {', '.join(flips)}: {', '.join(loto[t] for t in flips)}" if flips else "; no single task flips it"
    if floor_note:
        evidence += f"; floor: {floor_note}"
    if test.get("per_task"):  # which tasks carry the difference, e.g. a task whose eval clips repeat training ones
        evidence += "; per task: " + ", ".join(f"{t} {v:+.3f}" for t, v in first.per_task.items())
    return {**out, "verdict": decision.verdict, "qualifiers": decision.qualifiers, "why": decision.why,
            "evidence": evidence, "intervals": {b: iv.as_dict() for b, iv in intervals.items()},
            "leave_one_task_out": loto, "secondaries": secondaries}


def _combine(decisions: list[Decision]) -> Decision:
    return decisions[0] if len(decisions) == 1 else all_of(decisions)


def _secondaries(test, rows, encoder, declared, settings) -> list[dict]:
    out = []
    for s in test.get("secondaries", []):
        if "kind" not in s:
            continue  # statistic secondaries (C3, C5) are the statistic's own
        interval, why = comparison(rows, encoder, s["a"], s["b"], s["kind"], **settings)
        row = {"comparison": declaration.describe(s), "interval": interval.as_dict() if interval else None, "why": why}
        if interval is not None and s["kind"] in declared["floors"]:
            row["at_the_floor"] = _at_floor(rows, encoder, s["a"], s["kind"], declared, settings)[0]
        out.append(row)
    return _holm_rows(out)


def _holm_rows(rows: list[dict]) -> list[dict]:
    p = {i: r["interval"]["p_value"] for i, r in enumerate(rows) if r.get("interval")}
    for i, adjusted in holm(p).items():
        rows[i]["p_holm"] = adjusted
    return rows


# ------------------------------------------------------------------------------------------ C3: the gap
def decide_gap(test: dict, gap: dict | None, encoder: str, *, resamples: int = 1000, seed: int = 0) -> dict:
    """C3 from a modality-gap report's clean-text measurements (``analysis.modality_gap.clean_text_gap``): the
    primary statistic of side ``a`` minus side ``b`` paired over clips, with the declared smallest effect of
    interest; the set statistics (centroid distance, unbiased MMD^2) are the study's paired bootstrap differences,
    Holm-adjusted, and the probe's accuracy is shown as a point."""
    p = test["primary"]
    out = {"test": "C3", "claim": "C3", "scope": encoder, "test_scope": test["scope"],
           "primary": declaration.describe(p), "rule": test["rule"]}
    per_clip = (gap or {}).get(p["statistic"], {})
    if p["a"] not in per_clip or p["b"] not in per_clip:
        return {**out, "verdict": "inconclusive", "qualifiers": [], "why": "not run", "evidence": "not run"}
    a, b = (TaskScores(np.array([per_clip[v]])) for v in (p["a"], p["b"]))
    interval = paired_difference({"clips": a}, {"clips": b}, resamples=resamples, seed=seed)
    decision = decide(test, interval.low, interval.high)
    measured = gap.get("differences", {}).get(p["a"], {})
    rows = [{"comparison": declaration.describe(s), "interval": measured.get(s["statistic"])}
            for s in test.get("secondaries", []) if s["statistic"] in measured]
    probe = gap.get("probe_accuracy", {})
    evidence = (f"{p['statistic']} {p['a']} - {p['b']} {_fmt(interval)} over {a.n_items} clips (smallest effect of "
                f"interest {test.get('sesoi', 0):g})")
    if probe:
        evidence += "; probe accuracy " + ", ".join(f"{v} {x:.2f}" for v, x in probe.items())
    return {**out, "verdict": decision.verdict, "qualifiers": decision.qualifiers, "why": decision.why,
            "evidence": evidence, "intervals": {p["b"]: interval.as_dict()}, "secondaries": _holm_rows(rows)}


# ------------------------------------------------------------------------------------------ C5: the bound
def distinct_points(points: list[dict], estimator: str) -> dict[str, list[tuple[float, float]]]:
    """{encoder: [(discrepancy, test error)]} over distinct inputs: seeds averaged (a discrepancy is measured once
    per transfer, so seeds are not independent points) and Santa at lambda 0 dropped where it repeats plain."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for p in points:
        lam = p.get("lam")
        if p["transfer"] == "santa" and lam is not None and float(lam) == 0.0:
            continue  # Santa with lambda 0 is the audio as is: the plain point again
        grouped[p["encoder"], p["transfer"], lam].append(p)
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (encoder, _, _), group in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or -1)):
        if all(g.get(estimator) is not None for g in group):
            out[encoder].append((float(np.mean([g[estimator] for g in group])),
                                 float(np.mean([g["test_error"] for g in group]))))
    return dict(out)


def within_encoder_spearman(points: list[dict], estimator: str, *, resamples: int = 1000, seed: int = 0,
                            min_points: int = 5) -> dict:
    """Spearman's rho between the estimate and the error within each encoder, averaged over encoders; the
    interval resamples each encoder's distinct points (stratified). Encoders with fewer than ``min_points``
    distinct points, or a constant estimate, are left out and named."""
    from scipy.stats import spearmanr

    by_encoder = distinct_points(points, estimator)
    usable, notes = {}, [] if by_encoder else [f"no point carries the estimate {estimator}"]
    for encoder, pts in by_encoder.items():
        x, y = np.array(pts).T if pts else (np.array([]), np.array([]))
        if len(pts) < min_points:
            notes.append(f"{encoder}: {len(pts)} distinct points, fewer than {min_points}")
        elif np.ptp(x) == 0 or np.ptp(y) == 0:
            notes.append(f"{encoder}: the {'estimate' if np.ptp(x) == 0 else 'error'} is constant")
        else:
            usable[encoder] = (x, y)
    if not usable:
        return {"rho": None, "ci95": [None, None], "per_encoder": {}, "notes": notes}
    per_encoder = {e: float(spearmanr(x, y).statistic) for e, (x, y) in usable.items()}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        rhos = []
        for x, y in usable.values():
            i = rng.integers(0, len(x), len(x))
            rho = spearmanr(x[i], y[i]).statistic if np.ptp(x[i]) and np.ptp(y[i]) else np.nan
            rhos.append(rho)
        draws.append(np.nanmean(rhos) if np.isfinite(rhos).any() else np.nan)
    draws = np.array(draws)
    draws = draws[np.isfinite(draws)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"rho": float(np.mean(list(per_encoder.values()))), "ci95": [float(low), float(high)],
            "per_encoder": per_encoder, "points": {e: len(x) for e, (x, _) in usable.items()}, "notes": notes}


def saturated_share(points: list[dict], estimator: str = "proxy_a_distance", ceiling: float = 2.0) -> float | None:
    values = [p[estimator] for p in points if p.get(estimator) is not None]
    return float(np.mean(np.isclose(values, ceiling, atol=1e-3))) if values else None


def decide_bound(test: dict, points: list[dict], *, resamples: int = 1000, seed: int = 0) -> dict:
    p = test["primary"]
    min_points = int(test.get("min_points", 5))
    primary = within_encoder_spearman(points, p["estimator"], resamples=resamples, seed=seed, min_points=min_points)
    out = {"test": "C5", "claim": "C5", "scope": ", ".join(sorted({q["encoder"] for q in points})) or "-",
           "test_scope": test["scope"], "primary": declaration.describe(p), "rule": test["rule"]}
    if primary["rho"] is None:
        decision = Decision("inconclusive", "; ".join(primary["notes"]) or "not run")
    else:
        decision = decide(test, *primary["ci95"])
    secondaries = []
    for s in test.get("secondaries", []):
        r = within_encoder_spearman(points, s["estimator"], resamples=resamples, seed=seed, min_points=min_points)
        secondaries.append({"comparison": declaration.describe(s), "rho": r["rho"], "ci95": r["ci95"],
                            "per_encoder": r["per_encoder"], "notes": r["notes"]})
    share = saturated_share(points)
    evidence = (f"within-encoder rho ({p['estimator']}) "
                + (f"{primary['rho']:+.2f} [{primary['ci95'][0]:+.2f}, {primary['ci95'][1]:+.2f}]; per encoder "
                   + ", ".join(f"{e} {r:+.2f} ({primary['points'][e]} points)" for e, r in primary["per_encoder"].items())
                   if primary["rho"] is not None else "undefined: " + "; ".join(primary["notes"])))
    if share is not None and share >= 0.5:
        evidence += (f"; the proxy A-distance sits at its ceiling 2.0 on {share:.0%} of the points: the bound is vacuous "
                     "at this scale")
    return {**out, "verdict": decision.verdict, "qualifiers": decision.qualifiers, "why": decision.why,
            "evidence": evidence, "primary_statistic": primary, "secondaries": secondaries,
            "saturated_share": share}


# ------------------------------------------------------------------------------------------ C8: the cost
def cost_components(samples: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """{mode: {component: [seconds per training sample, one per timing]}} from the raw samples (mode, component,
    seconds_per_sample): embedding (each training input embedded once) and the optimizer step."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        out[s["mode"]][s["component"]].append(float(s["seconds_per_sample"]))
    return {mode: {c: np.array(v) for c, v in parts.items()} for mode, parts in out.items()}


def component_intervals(samples: list[dict], resamples: int = 2000, seed: int = 0) -> dict[str, dict[str, tuple]]:
    """{mode: {component: (mean, low, high)}}: each component's mean seconds per training sample with its 95%
    percentile interval over the repeated timings (the figure's error bars)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, tuple]] = {}
    for mode, parts in cost_components(samples).items():
        out[mode] = {}
        for component, values in parts.items():
            draws = rng.choice(values, (resamples, len(values))).mean(1)
            out[mode][component] = (float(values.mean()), *(float(x) for x in np.percentile(draws, [2.5, 97.5])))
    return out


def decide_cost(test: dict, samples: list[dict], machine: str, *, resamples: int = 2000, seed: int = 0) -> dict:
    """C8: seconds per training sample end to end (the mean embedding cost plus the mean step cost), ``a`` minus
    ``b`` (audio-supervised minus text-only), with a percentile interval that resamples every component's repeated
    timings independently (they are separate measurements)."""
    p = test["primary"]
    costs = cost_components(samples)
    out = {"test": "C8", "claim": "C8", "scope": machine, "test_scope": test["scope"],
           "primary": declaration.describe(p), "rule": test["rule"]}
    if p["a"] not in costs or p["b"] not in costs:
        return {**out, "verdict": "inconclusive", "qualifiers": [], "why": "not run", "evidence": "not run"}
    rng = np.random.default_rng(seed)

    def total(mode: str, draw: bool) -> np.ndarray | float:
        if not draw:
            return sum(v.mean() for v in costs[mode].values())
        return sum(rng.choice(v, (resamples, len(v))).mean(1) for v in costs[mode].values())

    value = float(total(p["a"], False) - total(p["b"], False))
    draws = total(p["a"], True) - total(p["b"], True)
    low, high = (float(x) for x in np.percentile(draws, [2.5, 97.5]))
    decision = decide(test, low, high)
    parts = "; ".join(f"{mode}: " + " + ".join(f"{c} {v.mean():.4f} (n={len(v)})" for c, v in sorted(costs[mode].items()))
                      for mode in (p["b"], p["a"]))
    return {**out, "verdict": decision.verdict, "qualifiers": decision.qualifiers, "why": decision.why,
            "evidence": f"seconds per training sample, {parts}; {p['a']} - {p['b']} {value:+.4f} [{low:+.4f}, {high:+.4f}]",
            "interval": {"value": value, "ci95": [low, high]}}
