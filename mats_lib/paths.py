"""Where the study keeps what `make` rebuilds.

Everything generated (converted models, extracted audio, embedding caches, datasets, runs) lives under
one ignored folder, ``build/`` in the repository, so a clean clone plus ``make`` recreates it.
``MATS_BUILD_DIR`` moves it (e.g. to scratch space on a GPU host).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def build_dir() -> Path:
    return Path(os.environ.get("MATS_BUILD_DIR", REPO_ROOT / "build")).resolve()


def project_path(value: str | Path) -> Path:
    """A path as a config or a user gives it: absolute as is, ``build/...`` under :func:`build_dir` (so that
    ``MATS_BUILD_DIR`` moves the runs and data the configs name too), anything else relative to the repository."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    if path.parts[:1] == ("build",):
        return build_dir().joinpath(*path.parts[1:])
    return REPO_ROOT / path


def report_path(value: str | Path) -> str:
    """How a report names a path, the inverse of :func:`project_path` so that two clones' reports agree: one under
    :func:`build_dir` as ``build/...``, one elsewhere in the repository relative to it, any other as given."""
    path = Path(value).resolve()
    if path.is_relative_to(build_dir()):
        return f"build/{path.relative_to(build_dir())}"
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(value)


def assets_dir() -> Path:
    """Prepared models and extracted audio (``make assets``)."""
    return build_dir() / "assets"


def cache_dir() -> Path:
    """On-disk embedding caches, one SQLite file per encoder configuration."""
    return Path(os.environ.get("MATS_CACHE_DIR", build_dir() / "cache")).resolve()


def data_dir() -> Path:
    """Built datasets (``make data``)."""
    return build_dir() / "data"


def offline_mode() -> None:
    """Forbid the Hugging Face libraries from reaching a hub: every model is loaded from a local path."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def reports_dir(preset: str | None = None) -> Path:
    """Where a study writes its reports (``reports/<preset>/``); ``MATS_REPORTS_DIR`` moves it (tests)."""
    root = Path(os.environ.get("MATS_REPORTS_DIR", REPO_ROOT / "reports")).resolve()
    return root / preset if preset else root


def eval_dir() -> Path:
    """Evaluation parts (``build/eval/<run>/<transfer>/<task>/<key>/``): a cache keyed by what made each part, not a
    report, so it lives with the runs and moves with ``MATS_BUILD_DIR``."""
    return build_dir() / "eval"
