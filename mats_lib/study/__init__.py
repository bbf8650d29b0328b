"""The study layer: what the notebooks share, between the library (``mats_lib``) and the reports.

The notebook contract: a study notebook's ``parameters`` cell holds flat literals only (``preset``,
``encoder_name``, ``seed``, ``santa_lam``, sweeps as comma strings). ``notebook_config`` maps ``<section>_<field>``
names onto the config (``santa_lam`` -> ``santa.lam``, ``eval_max_items`` -> ``eval.max_items``) and validates
them like every config; ``parse_list`` reads a sweep. ``ensure_run`` is the one on-demand trainer; results go to
``reports/<preset>/`` with their provenance (``write_report``, ``save_figure``).

Beside it, what the notebooks and commands compute through the library: the transfer table's conditions
(``transfer_table``), the lambda sweep (``ablation``), the bound's points (``discrepancy``), the gap's views and
geometry (``modality_gap``, ``geometry``), the encoders' ceilings (``data_overview``), C8's timings
(``efficiency``, which trains throwaway runs), the speed ratios (``bench``), the paper-step timing
(``paper_step``), MiniCLAP's report and gate frontier, and the two report writers (``reports``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..analysis.readme_blocks import replace_block
from ..config import Config, ConfigError, load_config
from ..paths import REPO_ROOT, reports_dir
from ..provenance import provenance, write_atomic, write_json_atomic
from ..runs import finished_run, run_config

__all__ = ["dotted", "ensure_run", "notebook_config", "parse_list", "run_config", "save_figure", "update_readme",
           "write_report"]
SECTIONS = tuple(f.name for f in dataclasses.fields(Config) if f.name not in ("preset", "seed"))  # encoder, llm, ...


def parse_list(text: str | list | tuple | float | int, cast=float) -> list:
    """'0,0.5,1' -> [0.0, 0.5, 1.0]; a list or a single number is accepted as well."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    elif isinstance(text, (int, float)):
        items = [text]
    else:
        items = [x.strip() for x in str(text).split(",") if x.strip()]
    try:
        values = [cast(x) for x in items]
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot read {text!r} as a comma-separated list of {cast.__name__}: {error}") from None
    if not values:
        raise ConfigError(f"empty list: {text!r}")
    return values


def dotted(name: str) -> str:
    """'santa_lam' -> 'santa.lam', 'encoder_name' -> 'encoder.name', 'seed' -> 'seed'."""
    section, _, rest = name.partition("_")
    return f"{section}.{rest}" if rest and section in SECTIONS else name


def notebook_config(preset: str, **params) -> Config:
    """The preset's config with flat notebook parameters applied (``None`` values are left at the preset's)."""
    return load_config(preset, {dotted(k): v for k, v in params.items() if v is not None})


def write_report(preset: str, name: str, table: dict, markdown: str | None = None) -> Path:
    """reports/<preset>/<name>.json (+ .md), stamped with provenance; returns the JSON path."""
    folder = reports_dir(preset)
    path = folder / f"{name}.json"
    write_json_atomic(path, {**table, "provenance": provenance()})
    if markdown is not None:
        write_atomic(folder / f"{name}.md", markdown)
    return path


def save_figure(fig, preset: str, name: str, **savefig) -> Path:
    """reports/<preset>/figures/<name>.png; returns its path."""
    path = reports_dir(preset) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **{"dpi": 110, **savefig})
    return path


def ensure_run(cfg: Config, train_missing: bool = True, progress: bool = True) -> Path:
    """The folder of the run ``cfg`` names. With ``train_missing`` it goes through the trainer, which reuses a
    finished run whose key matches, resumes an unfinished one and sets a stale one (trained by other code, data or
    settings) aside and trains again; without, a missing run is an error naming its make target (a stale one is
    refused when evaluated)."""
    if train_missing:
        from ..training import train

        train(cfg, progress=progress)
    return finished_run(cfg)


def update_readme(begin: str, end: str, block: str) -> Path:
    """Rewrite the README's block between ``begin`` and ``end`` (a generated block: the transfer table, the claims)."""
    readme = REPO_ROOT / "README.md"
    write_atomic(readme, replace_block(readme.read_text(), begin, end, block))
    return readme
