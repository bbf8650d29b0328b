"""Verdicts on the paper's claims from the study's tables, in one vocabulary.

A comparison is *better* / *worse* / *not distinguishable* (``mats_lib.stats.verdict``, from the 95% interval
of a paired difference); a claim is *reproduced* / *not reproduced* / *inconclusive*. The rules are written
here once, so every notebook and the summary say the same thing.
"""
from __future__ import annotations

from .transfer_table import REFERENCE

COMPETITIVE_MARGIN = 0.05  # C7: text-only is "competitive" when its deficit is surely under 0.05 (balanced accuracy)


def _diff(encoder_table: dict, a: str, b: str, kind: str = "classification") -> dict | None:
    if b == REFERENCE:
        found = encoder_table["differences"].get(a, {}).get(kind)
        if found:
            return found
    if b == "constant":
        return encoder_table["versus_constant"].get(a, {}).get(kind)
    return encoder_table.get("pairs", {}).get(f"{a} - {b}", {}).get(kind)


def _fmt(d: dict | None) -> str:
    return "not run" if d is None else f"{d['value']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] ({d['verdict']})"


def c1_above_chance(t: dict) -> dict:
    """C1: text-only MATS (Santa) is far above chance: Santa against the constant answer, balanced accuracy."""
    d = _diff(t, "santa", "constant")
    verdict = "inconclusive" if d is None else {"better": "reproduced", "worse": "not reproduced"}.get(d["verdict"], "inconclusive")
    return {"claim": "C1", "verdict": verdict, "evidence": f"santa - constant answer {_fmt(d)}"}


def c2_ordering(t: dict) -> dict:
    """C2: Santa > noise (CapDec) > raw, and Santa > memory (DRCap), on classification balanced accuracy."""
    steps = {"santa - noise": _diff(t, "santa", "noise"), "noise - raw": _diff(t, "noise", "raw"),
             "santa - memory": _diff(t, "santa", "memory")}
    verdicts = [d["verdict"] for d in steps.values() if d is not None]
    if len(verdicts) < len(steps):
        verdict = "inconclusive"
    elif all(v == "better" for v in verdicts):
        verdict = "reproduced"
    elif any(v == "worse" for v in verdicts):
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return {"claim": "C2", "verdict": verdict, "evidence": "; ".join(f"{k} {_fmt(d)}" for k, d in steps.items())}


def c7_competitive(t: dict) -> dict:
    """C7: text-only MATS is competitive with MATS-Audio: Santa's deficit is surely below the margin."""
    d = _diff(t, "santa", "MATS-Audio")
    if d is None:
        verdict = "inconclusive"
    elif d["ci95"][0] > -COMPETITIVE_MARGIN:
        verdict = "reproduced"
    elif d["verdict"] == "worse":
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return {"claim": "C7", "verdict": verdict,
            "evidence": f"santa - MATS-Audio {_fmt(d)}; competitive = lower bound above -{COMPETITIVE_MARGIN}"}


def transfer_claims(table: dict) -> dict[str, list[dict]]:
    """{encoder: [C1, C2, C7 verdicts]} from ``transfer_table.build``'s result."""
    return {encoder: [rule(t) for rule in (c1_above_chance, c2_ordering, c7_competitive)]
            for encoder, t in table["encoders"].items()}


def c5_discrepancy_orders_errors(correlations: dict) -> dict:
    """C5: the discrepancy between training and test inputs orders the transfers as their test errors.
    *reproduced* when at least two of the three estimators correlate positively (rho's interval above 0) and
    none negatively; *not reproduced* when at least two correlate negatively; else *inconclusive*."""
    verdicts = [c["verdict"] for c in correlations.values()]
    if verdicts.count("better") >= 2 and "worse" not in verdicts:
        verdict = "reproduced"
    elif verdicts.count("worse") >= 2:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    evidence = "; ".join(f"{name} rho {c['rho']:+.2f} [{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}]" if c["rho"] is not None
                         else f"{name} rho {c['note']}" for name, c in correlations.items())
    return {"claim": "C5", "verdict": verdict, "evidence": evidence}


def c8_cheaper(training: dict) -> dict:
    """C8: text-only training is cheaper than audio-supervised training. Judged on compute here (the paper's
    larger saving, not needing paired audio at all, is not a timing): embedding a training input costs more
    from audio than from text, and the optimizer steps cost the same. *reproduced* when the audio / text
    embedding cost ratio exceeds 1.1 and the step throughputs are within 10%."""
    r = training["ratios"]
    embed, steps = r["audio / text embedding cost per input"], r["text / audio training throughput"]
    if embed > 1.1 and 0.9 <= steps <= 1.1:
        verdict = "reproduced"
    elif embed < 0.9:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return {"claim": "C8", "verdict": verdict,
            "evidence": f"audio / text embedding cost per input {embed:.1f}x; text / audio step throughput {steps:.2f}x"}
