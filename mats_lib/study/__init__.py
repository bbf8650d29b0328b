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

__all__ = ["dotted", "ensure_run", "notebook_config", "notebook_setup", "parse_list", "report_folder", "run_config",
           "save_figure", "update_readme", "write_report"]
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


_REPORT_FOLDER: Path | None = None  # set by notebook_setup for the rest of this notebook's execution
# Known, understood library warnings a notebook's reader cannot act on (filtered once, in notebook_setup)
KNOWN_WARNINGS = (r".*no_repeat_ngram_size.*", r".*is_gradient_checkpointing.*", r"IProgress not found.*")


def notebook_setup(preset: str, report_dir: str = "", output_path: str = "") -> Path:
    """Where this notebook execution writes its reports and figures, said once: ``report_dir`` when given (``make``
    passes reports/<preset>), else the folder of papermill's output notebook (``--inject-output-path`` gives the
    notebook ``PAPERMILL_OUTPUT_PATH``), else reports/<preset> when ``MATS_REPORTS_DIR`` asks for it (the tests),
    else build/notebook-reports/<preset> (an interactive run): never the committed reports unless asked. Executed
    by papermill (a folder was given), progress bars are off and the known library warnings filtered, so that the
    executed copy reads as results."""
    import os
    import warnings

    from ..paths import build_dir, project_path, report_path

    global _REPORT_FOLDER
    if report_dir:
        folder = project_path(report_dir)
    elif output_path:
        folder = Path(output_path).expanduser().resolve().parent
    elif os.environ.get("MATS_REPORTS_DIR"):
        folder = reports_dir(preset)
    else:
        folder = build_dir() / "notebook-reports" / preset
    _REPORT_FOLDER = folder
    for pattern in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    if report_dir or output_path:
        _progress_bars_off()
    print(f"reports and figures go to {report_path(folder)}")
    return folder


def _progress_bars_off() -> None:
    """Every tqdm bar of this process off, the library's and its dependencies' (the model loaders'): an executed
    notebook keeps results, not thousands of bar updates. tqdm reads TQDM_DISABLE only when it is first imported,
    before a notebook's first cell runs, and the library passes ``disable=not progress`` itself, so the one switch
    that holds is tqdm's constructor."""
    import tqdm.std

    init = tqdm.std.tqdm.__init__
    if getattr(init, "quiet", False):
        return

    def quiet_init(self, *args, **kwargs):
        kwargs["disable"] = True
        init(self, *args, **kwargs)

    quiet_init.quiet = True
    tqdm.std.tqdm.__init__ = quiet_init


def report_folder(preset: str) -> Path:
    """The folder reports go to: the notebook's (``notebook_setup``), else reports/<preset> (the commands)."""
    return _REPORT_FOLDER or reports_dir(preset)


def write_report(preset: str, name: str, table: dict, markdown: str | None = None) -> Path:
    """<report folder>/<name>.json (+ .md), stamped with provenance; returns the JSON path."""
    folder = report_folder(preset)
    path = folder / f"{name}.json"
    write_json_atomic(path, {**table, "provenance": provenance()})
    if markdown is not None:
        write_atomic(folder / f"{name}.md", markdown)
    return path


def save_figure(fig, preset: str, name: str, **savefig) -> Path:
    """<report folder>/figures/<name>.png; returns its path."""
    path = report_folder(preset) / "figures" / f"{name}.png"
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
    """Rewrite the README's block between ``begin`` and ``end`` (a generated block: the claims)."""
    readme = REPO_ROOT / "README.md"
    write_atomic(readme, replace_block(readme.read_text(), begin, end, block))
    return readme
