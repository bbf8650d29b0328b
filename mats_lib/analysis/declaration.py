"""The claims' tests as declared in ``claims.yaml``: loaded, checked, and read by every verdict.

A test has one primary comparison (conditions or a statistic, the metric's kind, the direction that supports
the claim), a rule (superiority with a smallest effect of interest, or non-inferiority with a margin) and
secondary comparisons that are reported, Holm-adjusted within the test, and never change its verdict.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DECLARATION = Path(__file__).with_name("claims.yaml")
RULES = ("superiority", "non_inferiority")
TEST_KEYS = {"claim", "paper", "scope", "primary", "rule", "sesoi", "margin", "floor", "secondaries", "min_points",
             "per_task"}
COMPARISON_KEYS = {"a", "b", "kind", "direction", "statistic", "estimator"}


class DeclarationError(ValueError):
    pass


def _check_comparison(test: str, where: str, comparison: dict) -> None:
    unknown = set(comparison) - COMPARISON_KEYS
    if unknown:
        raise DeclarationError(f"{DECLARATION.name}: {test}.{where} has unknown keys {sorted(unknown)}")
    if comparison.get("direction") not in ("higher", "lower"):
        raise DeclarationError(f"{DECLARATION.name}: {test}.{where}.direction must be 'higher' or 'lower'")


def check(declared: dict) -> dict:
    """The declaration, refused with the test and key named when a test is malformed."""
    for name, test in declared["tests"].items():
        unknown = set(test) - TEST_KEYS
        if unknown:
            raise DeclarationError(f"{DECLARATION.name}: test {name} has unknown keys {sorted(unknown)}")
        for key in ("claim", "paper", "scope", "primary", "rule"):
            if key not in test:
                raise DeclarationError(f"{DECLARATION.name}: test {name} lacks {key!r}")
        if test["rule"] not in RULES:
            raise DeclarationError(f"{DECLARATION.name}: test {name}: rule {test['rule']!r} is not one of {RULES}")
        if test["rule"] == "non_inferiority" and "margin" not in test:
            raise DeclarationError(f"{DECLARATION.name}: test {name}: a non-inferiority rule needs its margin")
        _check_comparison(name, "primary", test["primary"])
        for i, secondary in enumerate(test.get("secondaries", [])):
            _check_comparison(name, f"secondaries[{i}]", secondary)
    return declared


@lru_cache(maxsize=None)
def _load(path: str) -> dict:
    return check(yaml.safe_load(Path(path).read_text()))


def load(path: Path | None = None) -> dict:
    return _load(str(path or DECLARATION))


def min_items(preset: str, declared: dict | None = None) -> int:
    """The smallest task that may be pooled into a verdict under ``preset``."""
    defaults = (declared or load())["defaults"]
    return int(defaults.get("min_items_by_preset", {}).get(preset, defaults["min_items"]))


def tests_of(claim: str, declared: dict | None = None) -> dict[str, dict]:
    return {name: t for name, t in (declared or load())["tests"].items() if t["claim"] == claim}


def describe(comparison: dict) -> str:
    """The primary in words: 'santa - noise, classification, higher'."""
    if "statistic" in comparison:
        what = comparison["statistic"] + (f" ({comparison['estimator']})" if "estimator" in comparison else "")
        pair = f", {comparison['a']} - {comparison['b']}" if "a" in comparison else ""
        return f"{what}{pair}, {comparison['direction']} supports"
    b = comparison["b"]
    b = " and ".join(b) if isinstance(b, list) else b
    return f"{comparison['a']} - {b}, {comparison['kind']}, {comparison['direction']} supports"
