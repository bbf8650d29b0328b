"""The study's two table-only steps, shared by their notebooks and commands: the transfer table (C1, C2, C7's
evidence) and the modality gap's geometry. Each evaluates or embeds through the library, renders through
``analysis`` and writes its report under reports/<preset>/.
"""
from __future__ import annotations

from ..analysis.geometry import to_markdown as geometry_markdown
from ..analysis.transfer_table import to_markdown
from ..config import load_config
from ..provenance import provenance, write_atomic, write_json_atomic
from ..tracking import EvalTracker, experiment_for
from . import report_folder
from .geometry import encoder_geometry, plot
from .transfer_table import build

DEFAULT_CONDITIONS = ("raw", "noise", "memory", "santa", "mean_shift", "MATS-Audio")


def _part_tracker(run, settings):
    return EvalTracker(experiment_for(settings.preset, settings.tracking.experiment), f"eval-{run.name}", {"run": str(run), **settings.inference_params()})


def transfer_table_report(preset: str, encoders: list[str], seeds: list[int],
                          conditions: list[str] | tuple[str, ...] = DEFAULT_CONDITIONS, *, allow_missing: bool = False,
                          tracking: bool = True, command: str = "") -> dict:
    """Evaluate every condition's runs (parts reused by key), write <report folder>/transfer_table.{json,md}."""
    table = build(preset, encoders, seeds, list(conditions), command=command, allow_missing=allow_missing,
                  tracker_factory=_part_tracker if tracking else None)
    table["provenance"] = provenance()
    out = report_folder(preset) / "transfer_table"
    write_json_atomic(out.with_suffix(".json"), table)
    write_atomic(out.with_suffix(".md"), to_markdown(table))
    return table


def geometry_report(preset: str, encoders: list[str], pairs: int = 350, seed: int = 0, command: str = "") -> dict:
    """The gap's geometry per encoder and transfer: reports/<preset>/modality_geometry.{json,md} and its figure."""
    tables = {e: encoder_geometry(load_config(preset, {"encoder.name": e, "seed": seed}), pairs, seed=seed)
              for e in encoders}
    out = report_folder(preset)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    plot(tables).savefig(out / "figures" / "modality_geometry.png", dpi=120)
    write_atomic(out / "modality_geometry.md", geometry_markdown(tables, command))
    write_json_atomic(out / "modality_geometry.json", {"command": command, "provenance": provenance(), "encoders": tables})
    return tables
