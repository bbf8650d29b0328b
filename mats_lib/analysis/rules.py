"""The declared rules that turn an interval into a verdict, and the qualifiers shown beside it.

Verdicts: *reproduced* / *not reproduced* / *inconclusive*. Qualifiers: *negligible* (the interval lies inside
the smallest effect of interest), *fragile* (the verdict flips when one task is left out), *at the floor* (full
Santa is not better than the metric's constant baseline, so no comparison above it can decide).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Decision:
    verdict: str
    why: str
    qualifiers: list[str] = field(default_factory=list)


def oriented(low: float, high: float, direction: str) -> tuple[float, float]:
    """The interval of the improvement: a statistic where lower supports the claim is negated."""
    return (low, high) if direction == "higher" else (-high, -low)


def superiority(low: float, high: float, sesoi: float = 0.0) -> Decision:
    """*reproduced* when the improvement is surely above 0 and not surely below the smallest effect of interest;
    *not reproduced* when it is surely below 0 or surely inside (-sesoi, sesoi) (*negligible*); else inconclusive."""
    if sesoi > 0 and low > -sesoi and high < sesoi:
        return Decision("not reproduced", f"the interval lies inside the smallest effect of interest (+-{sesoi:g})",
                        ["negligible"])
    if low > 0:
        return Decision("reproduced", "the interval of the improvement lies above 0")
    if high < 0:
        return Decision("not reproduced", "the interval of the improvement lies below 0")
    return Decision("inconclusive", "the interval of the improvement holds 0")


def non_inferiority(low: float, high: float, margin: float) -> Decision:
    """*reproduced* when the lower bound is above -margin, *not reproduced* when the upper bound is below -margin,
    else *inconclusive*."""
    if low > -margin:
        return Decision("reproduced", f"the lower bound is above -{margin:g}")
    if high < -margin:
        return Decision("not reproduced", f"the upper bound is below -{margin:g}")
    return Decision("inconclusive", f"the interval straddles -{margin:g}")


def decide(test: dict, low: float, high: float) -> Decision:
    """The test's declared rule applied to the raw interval of its primary (a - b)."""
    low, high = oriented(low, high, test["primary"]["direction"])
    if test["rule"] == "non_inferiority":
        return non_inferiority(low, high, float(test["margin"]))
    return superiority(low, high, float(test.get("sesoi", 0.0)))


def all_of(decisions: list[Decision]) -> Decision:
    """Intersection-union: every comparison must be reproduced; one not reproduced decides against."""
    verdicts = [d.verdict for d in decisions]
    qualifiers = sorted({q for d in decisions for q in d.qualifiers})
    if all(v == "reproduced" for v in verdicts):
        return Decision("reproduced", "every comparison is reproduced", qualifiers)
    if "not reproduced" in verdicts:
        return Decision("not reproduced", "a comparison is not reproduced", qualifiers)
    return Decision("inconclusive", "a comparison does not decide", qualifiers)


def at_the_floor(decision: Decision) -> Decision:
    return Decision("inconclusive", "at the floor: full Santa is not better than the constant baseline, so no "
                    "comparison above it decides", ["at the floor"])
