"""Transfer levers: what a training recipe does to the audio column of a text-only model (docs/transfer_levers.md).

A *lever* is a label and the training overrides that make it (``noise0.015=data.noise_variance:0.015``; the
first lever is the reference, normally today's recipe with no override). For each encoder and lever the
text-only runs of the given training seeds are trained when missing (the code of ``make train``; a finished
run whose key matches is reused) and evaluated, on the classification tasks of the eval part, under the
noise-trained model's plain transfer (``noise``, CapDec) and Santa, and any other condition of the transfer table
given in ``transfers`` (``mean_shift``). A lever may set only evaluation settings (``santa.temperature:1``): its
runs are today's, reused by key. Reported per lever, on the same items:

- pooled balanced accuracy (the unweighted mean over tasks) with its hierarchical interval, and per task;
- paired differences against the constant (majority) answer and against the reference lever, with verdicts;
- the encoder's own zero-shot on the same items (each clip's audio embedding against "the sound of <label>"
  for the labels of its task, no LLM) and the *transfer efficiency*: the model's pooled balanced accuracy over
  the encoder's, i.e. how much of what the CLAP knows reaches the answer.

    table = lever_table("mini", ["tagclap"], [0], [parse_lever("today"), parse_lever("n=data.noise_variance:0.015")])
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import yaml

from ..baselines import constant_answer_items
from ..config import load_config, resolve_path
from ..data.tasks import get_task
from ..encoders import encoder_from_config
from ..evaluation import task_records
from ..stats import TaskScores, bootstrap, paired_difference
from .data_overview import zero_shot_correct
from ..runs import finished_run, run_config
from .transfer_table import evaluate_conditions, task_scores

TRANSFERS = ("noise", "santa")  # the default conditions of a lever table


@dataclass(frozen=True)
class Lever:
    label: str
    overrides: dict

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "the preset as is"


def parse_lever(text: str) -> Lever:
    """'label' (no override) or 'label=key:value[,key:value...]'; values are YAML scalars (0.015, 750, auto)."""
    label, _, spec = text.partition("=")
    if not label:
        raise ValueError(f"lever {text!r}: give a label, e.g. noise0.015=data.noise_variance:0.015")
    overrides = {}
    for item in filter(None, spec.split(",")):
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ValueError(f"lever {text!r}: {item!r} is not key:value")
        overrides[key.strip()] = yaml.safe_load(value)
    return Lever(label, overrides)


def classification_tasks(cfg) -> list[str]:
    return [t for t in cfg.eval.tasks if get_task(t).kind == "classification"]


def encoder_zero_shot(cfg, records: dict[str, list[dict]], n_seeds: int) -> dict[str, TaskScores]:
    """Per task, [items] correctness of the run's encoder alone on the evaluation's items (``records``): the audio
    embedding's nearest label prompt ("the sound of <label>") among the task's labels."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    encoder = encoder_from_config(cfg.encoder, progress=False)
    out = {}
    for task, rows in records.items():
        names = labels[task]["labels"]
        correct = zero_shot_correct(encoder, root, rows, names, [f"the sound of {n.lower()}" for n in names])
        out[task] = TaskScores(np.tile(correct, (n_seeds, 1)), [r["output"] for r in rows])
    return out


def lever_scores(preset: str, encoder: str, seeds: list[int], lever: Lever, *, transfers: tuple[str, ...] = TRANSFERS,
                 train_missing: bool = True, progress: bool = True, **evaluate_kw) -> tuple[dict, dict]:
    """({transfer: {task: TaskScores}}, {transfer: {seed: {task: [part keys]}}}) for one lever."""
    base = run_config(preset, encoder, seeds[0], "text", lever.overrides)
    tasks = classification_tasks(base)
    for seed in seeds:
        cfg = run_config(preset, encoder, seed, "text", lever.overrides)
        if train_missing:  # reuses a finished run whose key matches, sets a stale one aside and trains again
            from ..training import train

            train(cfg, progress=progress)
        else:
            finished_run(cfg)
    overrides = {**lever.overrides, "eval.tasks": tasks}
    results, _ = evaluate_conditions(preset, encoder, seeds, list(transfers), overrides=overrides, progress=progress,
                                     **evaluate_kw)
    scores = {c: {t: task_scores(results[c], t) for t in tasks} for c in transfers}
    keys = {c: {str(s): {t: [p["key"] for p in results[c][s][t]] for t in tasks} for s in seeds} for c in transfers}
    return scores, keys


def _per_task(scores: dict[str, TaskScores]) -> dict[str, float]:
    return {t: bootstrap({t: s}, resamples=10).value for t, s in scores.items()}


def encoder_levers(preset: str, encoder: str, seeds: list[int], levers: list[Lever], *, resamples: int | None = None,
                   **kw) -> dict:
    # the reference lever's tasks (a lever may narrow them: eval.tasks:[cls_synth] reads one held-out set alone)
    cfg = load_config(preset, {"encoder.name": encoder, **levers[0].overrides})
    resamples = resamples or cfg.eval.bootstrap_resamples
    tasks = classification_tasks(cfg)
    for lever in levers[1:]:
        theirs = classification_tasks(load_config(preset, {"encoder.name": encoder, **lever.overrides}))
        if theirs != tasks:
            raise ValueError(f"lever {lever.label!r} evaluates {theirs}, the reference {levers[0].label!r} {tasks}: "
                             "levers are compared on the same tasks")
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    records = {t: task_records(root, t, cfg) for t in tasks}  # the evaluation's items, read once
    references = {t: [r["output"] for r in rows] for t, rows in records.items()}
    constant = {t: TaskScores(np.tile(constant_answer_items(refs), (len(seeds), 1)), refs) for t, refs in references.items()}
    zero_shot = encoder_zero_shot(cfg, records, len(seeds))
    ceiling = bootstrap(zero_shot, resamples=resamples).as_dict()
    out = {"encoder": encoder, "constant": bootstrap(constant, resamples=resamples).as_dict(),
           "encoder_zero_shot": {"pooled": ceiling, "per_task": _per_task(zero_shot)}, "levers": {}}
    reference = None
    for lever in levers:
        scores, keys = lever_scores(preset, encoder, seeds, lever, **kw)
        reference = reference or scores
        row = {"overrides": lever.overrides, "keys": keys}
        first = next(iter(scores))
        for transfer, per_task in scores.items():
            pooled = bootstrap(per_task, resamples=resamples).as_dict()
            row[transfer] = {
                # transfers of the same runs on the same items: mean_shift - noise is paired like two levers
                "versus_first_transfer": (paired_difference(per_task, scores[first], resamples=resamples).as_dict()
                                          if transfer != first else None),
                "pooled": pooled, "per_task": _per_task(per_task),
                "versus_constant": paired_difference(per_task, constant, resamples=resamples).as_dict(),
                "versus_reference": paired_difference(per_task, reference[transfer], resamples=resamples).as_dict(),
                "versus_encoder": paired_difference(per_task, zero_shot, resamples=resamples).as_dict(),
                # each task alone: the held-out source's verdict (a run whose corpus lacks its labels) is read here
                "per_task_versus_constant": {
                    t: paired_difference({t: per_task[t]}, {t: constant[t]}, resamples=resamples).as_dict()
                    for t in per_task},
                "efficiency": pooled["value"] / ceiling["value"] if ceiling["value"] > 0 else None}
        out["levers"][lever.label] = row
    return out


def lever_table(preset: str, encoders: list[str], seeds: list[int], levers: list[Lever], *, command: str = "",
                transfers: tuple[str, ...] = TRANSFERS, **kw) -> dict:
    if not levers:
        raise ValueError("give at least one lever (the first is the reference)")
    return {"preset": preset, "command": command, "seeds": seeds, "reference": levers[0].label,
            "transfers": list(transfers),
            "levers": {l.label: l.describe() for l in levers},
            "encoders": {e: encoder_levers(preset, e, seeds, levers, transfers=transfers, **kw) for e in encoders}}


def _cell(d: dict, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(d['value'])} [{f.format(d['ci95'][0])}, {f.format(d['ci95'][1])}]"


def to_markdown(table: dict) -> str:
    lines = [f"# Transfer levers ({table['preset']} preset)", "",
             f"Command: `{table['command']}`. Training seeds {table['seeds']}; classification tasks of the eval part; "
             f"pooled balanced accuracy [95% interval]; differences are paired on the same items (hierarchical "
             f"bootstrap over training seeds, then items). Reference lever: `{table['reference']}`.", ""]
    transfers = table.get("transfers", TRANSFERS)  # tables written before transfers were a setting lack it
    for encoder, t in table["encoders"].items():
        lines += [f"## {encoder}", "",
                  f"Constant answer: {_cell(t['constant'])}; the encoder's own zero-shot on the same items: "
                  f"{_cell(t['encoder_zero_shot']['pooled'])}.", "",
                  f"| lever | settings | transfer | pooled bal. acc. | vs constant | vs reference | "
                  f"vs {transfers[0]} (same lever) | efficiency |",
                  "|---|---|---|---|---|---|---|---|"]
        for label, row in t["levers"].items():
            for transfer in transfers:
                r = row[transfer]
                eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
                first = r.get("versus_first_transfer")
                versus_first = f"{_cell(first, True)} {first['verdict']}" if first else "-"
                lines.append(f"| {label} | {table['levers'][label]} | {transfer} | {_cell(r['pooled'])} | "
                             f"{_cell(r['versus_constant'], True)} {r['versus_constant']['verdict']} | "
                             f"{_cell(r['versus_reference'], True)} {r['versus_reference']['verdict']} | "
                             f"{versus_first} | {eff} |")
        tasks = list(t["encoder_zero_shot"]["per_task"])
        lines += ["", "Per task (balanced accuracy; difference from the constant answer [95% interval] and verdict; "
                  "a lever whose corpus holds a label set out is read on that set's column):", "",
                  "| lever | transfer | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks),
                  "| encoder's zero-shot | - | " + " | ".join(f"{t['encoder_zero_shot']['per_task'][x]:.3f}"
                                                        for x in tasks) + " |"]
        for label, row in t["levers"].items():
            for transfer in transfers:
                r = row[transfer]
                versus = r.get("per_task_versus_constant", {})
                lines.append(f"| {label} | {transfer} | " + " | ".join(
                    f"{r['per_task'][x]:.3f} ({_cell(versus[x], True)} {versus[x]['verdict']})" if x in versus
                    else f"{r['per_task'][x]:.3f}" for x in tasks) + " |")
        lines.append("")
    return "\n".join(lines)
