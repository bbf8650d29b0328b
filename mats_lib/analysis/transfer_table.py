"""The transfer comparison: the paper's conditions on the same items, with baselines and paired intervals.

Conditions (mats_method.md s.6) pair a training run with a transfer of the audio embedding:

| condition  | run                          | transfer   |
|------------|------------------------------|------------|
| raw        | trained without noise        | plain      |
| noise      | noise-trained (CapDec)       | plain      |
| memory     | noise-trained                | memory (DRCap) |
| santa      | noise-trained                | santa      |
| test_noise | noise-trained                | test_noise (an extra: the training noise at test time) |
| mean_shift | noise-trained                | mean_shift (an extra, Liang et al. 2022: the audio-train pairs' mean text-minus-audio offset added) |
| MATS-Audio | trained on audio embeddings  | plain      |

Every condition is scored on the same items of every task, for each training seed; a comparison is the
paired difference against the noise-trained model's plain transfer ("noise") and against the constant
answer, with a hierarchical bootstrap over training seeds and items (``mats_lib.stats``). Returns plain
dicts (JSON) and Markdown; no plotting.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..baselines import (best_constant_caption, constant_answer_items, constant_caption_items, fit_question_prior,
                         question_prior_items)
from ..config import Config, load_config
from ..data.records import load_eval_records
from ..data.tasks import get_task
from ..evaluation import ZeroShotError, evaluate_run, items_root, task_records, training_texts, zero_shot_guard
from ..paths import eval_dir
from ..data.sources import corpus_records
from ..runs import MissingRunError, finished_run, run_config
from ..stats import TaskScores, bootstrap, paired_difference
from .readme_blocks import replace_block

CONDITIONS = {"raw": ("nonoise", "plain"), "noise": ("text", "plain"), "memory": ("text", "memory"),
              "santa": ("text", "santa"), "test_noise": ("text", "test_noise"), "mean_shift": ("text", "mean_shift"),
              "MATS-Audio": ("audio", "plain")}
REFERENCE = "noise"
# comparisons the claims need beyond "against noise": (a, b) -> a - b
EXTRA_PAIRS = (("santa", "memory"), ("santa", "MATS-Audio"), ("noise", "raw"))
KINDS = {"classification": "balanced accuracy", "caption": "CIDEr-D", "qa": "QA accuracy"}  # kind: its metric
ENCODER_SETTING = {"tagclap": "tagclap (YAMNet + MiniLM, training-free, 384-d)",
                   "miniclap": "miniclap (tagclap + contrastive heads trained on the audio-train split, 768-d)"}


# ------------------------------------------------------------------------------------------ evaluation
def evaluate_conditions(preset: str, encoder: str, seeds: list[int], conditions: list[str], *,
                        overrides: dict | None = None, out_root: Path | None = None, tracker_factory=None,
                        allow_missing: bool = False, progress: bool = True) -> dict:
    """({condition: {seed: {task: [metrics per evaluation seed]}}}, {condition: {task: why it was refused}}).
    A condition without its runs is absent when ``allow_missing``. A caption task whose references occur among a
    run's training texts is refused for that run, not evaluated (MATS-Audio trains on the audio-train scenes'
    captions, some of which equal eval references): the zero-shot guard's message is kept as the reason."""
    out_root = out_root or eval_dir()
    needed: dict[str, list[str]] = {}
    for condition in conditions:
        kind, transfer = CONDITIONS[condition]
        needed.setdefault(kind, [])
        if transfer not in needed[kind]:
            needed[kind].append(transfer)
    by_run: dict[tuple[str, int], dict] = {}
    refused_by_kind: dict[str, dict[str, str]] = {}
    for kind, transfers in needed.items():
        for seed in seeds:
            cfg = run_config(preset, encoder, seed, kind, overrides)
            try:
                folder = finished_run(cfg)
            except MissingRunError:
                if allow_missing:
                    continue
                raise
            refused = refused_tasks(cfg)
            refused_by_kind[kind] = refused
            settings = replace(cfg, eval=replace(cfg.eval, transfers=transfers,
                                                 tasks=[t for t in cfg.eval.tasks if t not in refused]))
            with tracker_factory(folder, settings) if tracker_factory else nullcontext() as tracker:
                by_run[kind, seed] = evaluate_run(folder, settings, out_root / folder.name, tracker=tracker,
                                                  progress=progress)
    results: dict = {}
    refusals: dict = {}
    for condition in conditions:
        kind, transfer = CONDITIONS[condition]
        if all((kind, s) in by_run for s in seeds):
            results[condition] = {s: by_run[kind, s][transfer] for s in seeds}
            if refused_by_kind.get(kind):
                refusals[condition] = refused_by_kind[kind]
    return results, refusals


def benchmark_setting(name: str, root: str | Path, allow_missing: bool = False) -> tuple[dict, dict]:
    """(the table's label for a paper benchmark: name, split, metric and what the paper reports; the overrides that
    evaluate every item of it, prepared from ``root``). Only benchmarks this table compares (classification,
    captioning, QA) are taken; the others are refused with the command that scores them."""
    from ..benchmarks import evaluation_overrides, get_benchmark

    bench = get_benchmark(name)
    if bench.kind not in KINDS:
        raise ValueError(f"{bench.name} is scored by {bench.metric}; this table compares classification, captioning "
                         f"and QA scores: evaluate it with `python -m mats_lib.evaluate RUN --benchmark {bench.name} "
                         f"--root {root}`")
    _, overrides = evaluation_overrides(name, root, allow_missing=allow_missing)
    return {"name": bench.name, "split": bench.split, "metric": bench.metric, "paper": bench.paper}, overrides


def refused_tasks(cfg: Config) -> dict[str, str]:
    """{task: reason} for the tasks the zero-shot guard refuses for a run trained under ``cfg`` (same subset as
    the evaluation)."""
    root = items_root(cfg, cfg)
    texts = training_texts(cfg)
    refused = {}
    for task in cfg.eval.tasks:
        try:
            zero_shot_guard(task_records(root, task, cfg), texts, task)
        except ZeroShotError as error:
            refused[task] = str(error)
    return refused


def task_scores(per_seed: dict, task: str) -> TaskScores:
    """[seeds, items] per-item scores of one condition on one task (test-time draws averaged per item)."""
    rows, labels = [], None
    for seed in sorted(per_seed):
        parts = per_seed[seed][task]
        rows.append(np.mean([p["items"] for p in parts], axis=0))
        if parts[0]["kind"] == "classification":
            labels = parts[0]["labels"]
    return TaskScores(np.stack(rows), labels)


# ------------------------------------------------------------------------------------------ baselines
def baseline_scores(cfg: Config, tasks: list[str], n_seeds: int) -> tuple[dict[str, TaskScores], dict]:
    """({task: TaskScores}, {task: what the baseline is}) on the same items: the constant (majority) answer for
    classification, the question-only prior for QA (fitted on the root's training split: none where the benchmark
    has no such split), the best constant training caption for captioning."""
    root = items_root(cfg, cfg)
    constant: dict[str, TaskScores] = {}
    meta: dict = {}
    for task in tasks:
        records = task_records(root, task, cfg)
        kind = get_task(task).kind
        if kind == "classification":
            labels = [r["output"] for r in records]
            items = constant_answer_items(labels)
            constant[task] = TaskScores(np.tile(items, (n_seeds, 1)), labels)
        elif kind == "qa":
            if not (root / "train" / f"{task}.jsonl").is_file():
                meta[task] = {"baseline": "none: no training split beside these items to fit a question-only prior on"}
                continue
            train, _ = load_eval_records(root / "train" / f"{task}.jsonl", root)
            prior = fit_question_prior(train)
            constant[task] = TaskScores(np.tile(question_prior_items(records, prior), (n_seeds, 1)))
            meta[task] = {"baseline": "question-only prior (best constant answer per question type, audio-train scenes)",
                          "prior": prior}
        elif kind == "caption":
            caption = best_constant_caption(_corpus_caption_outputs(cfg), seed=cfg.eval.subset_seed)
            items = constant_caption_items(caption, [r["output"] for r in records])
            constant[task] = TaskScores(np.tile(items, (n_seeds, 1)))
            meta[task] = {"baseline": "best constant caption of the training corpus", "caption": caption}
    return constant, meta


def _corpus_caption_outputs(cfg: Config) -> list[str]:
    return [r["output"] for records in corpus_records(cfg).values() for r in records
            if get_task(r["task"]).kind == "caption"]


# ------------------------------------------------------------------------------------------ the table
def _by_kind(scores: dict[str, TaskScores], kind: str) -> dict[str, TaskScores]:
    return {t: s for t, s in scores.items() if get_task(t).kind == kind}


def encoder_table(preset: str, encoder: str, seeds: list[int], conditions: list[str], *, overrides: dict | None = None,
                  resamples: int | None = None, **evaluate_kw) -> dict:
    results, refusals = evaluate_conditions(preset, encoder, seeds, conditions, overrides=overrides, **evaluate_kw)
    cfg = run_config(preset, encoder, seeds[0], "text", overrides)
    resamples = resamples or cfg.eval.bootstrap_resamples
    tasks = [t for t in cfg.eval.tasks if get_task(t).kind in KINDS]
    scores = {c: {t: task_scores(r, t) for t in tasks if t in r[seeds[0]]} for c, r in results.items()}
    constant, baseline_notes = baseline_scores(cfg, tasks, len(seeds))
    table: dict = {"encoder": encoder, "setting": ENCODER_SETTING.get(encoder, encoder), "seeds": seeds,
                   "conditions": {}, "baselines": {}, "per_task": {}, "differences": {}, "versus_constant": {},
                   "baseline_notes": baseline_notes, "refused": refusals}
    for kind in KINDS:
        if _by_kind(constant, kind):
            table["baselines"][kind] = bootstrap(_by_kind(constant, kind), resamples=resamples).as_dict()
    for condition, per_task in scores.items():
        cells = {kind: bootstrap(_by_kind(per_task, kind), resamples=resamples).as_dict()
                 for kind in KINDS if _by_kind(per_task, kind)}
        accuracy = [np.mean([p["accuracy"] for p in results[condition][s][t]]) for t in per_task
                    if get_task(t).kind == "classification" for s in seeds]
        cells["classification_accuracy"] = float(np.mean(accuracy)) if accuracy else None
        table["conditions"][condition] = cells
        with_baseline = {t: s for t, s in per_task.items() if t in constant}  # a QA benchmark may have none
        table["versus_constant"][condition] = {
            kind: paired_difference(_by_kind(with_baseline, kind), _by_kind(constant, kind), resamples=resamples).as_dict()
            for kind in KINDS if _by_kind(with_baseline, kind)}
        if condition != REFERENCE and REFERENCE in scores:
            table["differences"][condition] = {
                kind: paired_difference(_by_kind(per_task, kind), _by_kind(scores[REFERENCE], kind),
                                        resamples=resamples).as_dict()
                for kind in KINDS if _by_kind(per_task, kind)}
        table["per_task"][condition] = {t: float(np.mean([p["value"] for s in seeds for p in results[condition][s][t]]))
                                        for t in per_task}
    table["pairs"] = {f"{a} - {b}": {kind: paired_difference(_by_kind(scores[a], kind), _by_kind(scores[b], kind),
                                                             resamples=resamples).as_dict()
                                     for kind in KINDS if _by_kind(scores[a], kind) and _by_kind(scores[b], kind)}
                      for a, b in EXTRA_PAIRS if a in scores and b in scores}
    first = max(results.values(), key=lambda r: len(r[seeds[0]]), default=None)  # the most complete condition
    if first is not None:
        seed0 = first[seeds[0]]
        fields = ("n", "chance", "balanced_chance", "majority_rate", "majority_label", "majority_over_half")
        table["task_baselines"] = {t: {k: seed0[t][0][k] for k in fields if k in seed0[t][0]} for t in tasks}
    table["keys"] = {c: {str(s): {t: [p["key"] for p in r[s][t]] for t in tasks if t in r[s]} for s in seeds}
                     for c, r in results.items()}
    table["missing"] = [c for c in conditions if c not in results]
    return table


def build(preset: str, encoders: list[str], seeds: list[int], conditions: list[str] | None = None, *,
          command: str = "", benchmark: dict | None = None, **kw) -> dict:
    """The table under each encoder. ``benchmark`` (its name, split, metric and what the paper reports) labels a
    table whose ``overrides`` point the evaluation at a prepared paper benchmark."""
    conditions = conditions or list(CONDITIONS)
    cfg = load_config(preset, kw.get("overrides"))
    return {"preset": preset, "command": command, "seeds": seeds, "conditions": conditions, "reference": REFERENCE,
            "benchmark": benchmark,
            "encoder_order": list(encoders),
            "eval": {"max_items": cfg.eval.max_items, "subset_seed": cfg.eval.subset_seed, "eval_seeds": cfg.eval.seeds,
                     "num_beams": cfg.decoding.num_beams, "resamples": cfg.eval.bootstrap_resamples},
            "encoders": {e: encoder_table(preset, e, seeds, conditions, **kw) for e in encoders}}


# ------------------------------------------------------------------------------------------ Markdown
def _cell(d: dict | None, signed: bool = False) -> str:
    if not d:
        return "not run"
    f = "{:+.3f}" if signed else "{:.3f}"
    text = f"{f.format(d['value'])} [{f.format(d['ci95'][0])}, {f.format(d['ci95'][1])}]"
    return text + (f" {d['verdict']}" if signed else "")


def _setting_line(table: dict) -> str:
    """What made the table: preset, models, seeds, subset, decoding, resampling and the command."""
    ev = table["eval"]
    return (f"Preset `{table['preset']}`: a stand-in CLAP + SmolLM2-135M with LoRA (not the paper's MS-CLAP + "
                 f"Vicuna-7B); training seeds {', '.join(map(str, table['seeds']))}; "
                 + (f"a seeded subset of at most {ev['max_items']} items per task; " if ev["max_items"] else "")
                 + ("greedy decoding" if ev["num_beams"] == 1 else f"beam {ev['num_beams']}")
                 + f"; Santa's noise drawn under evaluation seeds {ev['eval_seeds']}. Cells: value [95% interval, "
                 f"hierarchical bootstrap over training seeds then items, {ev['resamples']} resamples]. "
                 f"Command: `{table['command']}`.")


def _refused_kinds(t: dict, condition: str) -> set[str]:
    """The task kinds (classification, caption, qa) the zero-shot guard refused for ``condition``."""
    return {get_task(task).kind for task in t.get("refused", {}).get(condition, {})}


def to_markdown(table: dict) -> str:
    """The tables of ``build``'s result: pooled values, paired differences, per-task scores and baselines."""
    bench = table.get("benchmark")
    place = f"{bench['name']} ({bench['split']}, every item)" if bench else "MiniAudio (eval part)"
    lines = [f"# Modality transfers on {place}", "", _setting_line(table)]
    order = {task: i for i, task in enumerate(load_config(table["preset"]).eval.tasks)}
    if bench:
        lines += ["", f"Metric as the benchmark's peers report it: {bench['metric']}. The paper's value: {bench['paper']}."]
    for encoder in table.get("encoder_order", list(table["encoders"])):  # JSON files sort their keys
        t = table["encoders"][encoder]
        lines += ["", f"### {t['setting']}", "",
                  "| condition | classification balanced accuracy | accuracy | captioning CIDEr-D | QA accuracy |",
                  "|---|---|---|---|---|"]
        for condition in table["conditions"]:
            c = t["conditions"].get(condition)
            if c is None:
                lines.append(f"| {condition} | not run | not run | not run | not run |")
                continue
            acc = f"{c['classification_accuracy']:.3f}" if c.get("classification_accuracy") is not None else "-"
            refused = _refused_kinds(t, condition)
            cells = {k: "refused: not zero-shot" if k in refused and not c.get(k) else _cell(c.get(k))
                     for k in ("classification", "caption", "qa")}
            lines.append(f"| {condition} | {cells['classification']} | {acc} | {cells['caption']} | {cells['qa']} |")
        b = t["baselines"]
        majority = np.mean([v["majority_rate"] for v in t.get("task_baselines", {}).values() if "majority_rate" in v] or [np.nan])
        lines.append(f"| constant answer / majority class / question prior / constant caption | "
                     f"{_cell(b.get('classification'))} | {majority:.3f} | {_cell(b.get('caption'))} | {_cell(b.get('qa'))} |")
        against = ((table["reference"], t["differences"]), ("constant", t["versus_constant"]))
        lines += ["", f"Paired differences against **{table['reference']}** (the noise-trained model fed audio as is)"
                  " and against the constant baseline of each column"
                  " (better / worse / not distinguishable from the 95% interval of the difference):", "",
                  "| condition | vs | classification balanced accuracy | captioning CIDEr-D | QA accuracy |",
                  "|---|---|---|---|---|"]
        for condition in table["conditions"]:
            for label, source in against:
                d = source.get(condition)
                if d:
                    refused = _refused_kinds(t, condition)
                    cells = [_cell(d.get(k), True) if d.get(k) or k not in refused else "refused: not zero-shot"
                             for k in ("classification", "caption", "qa")]
                    lines.append(f"| {condition} | {label} | " + " | ".join(cells) + " |")
        # The preset's task order (the build's), so that the report re-rendered from the JSON file, whose keys are
        # sorted, is the report written at build time
        tasks = sorted(t.get("task_baselines", {}), key=lambda x: (order.get(x, len(order)), x))
        cls_tasks = [x for x in tasks if get_task(x).kind == "classification"]
        lines += ["", "Per task (classification: balanced accuracy; captions: CIDEr-D; QA: accuracy), mean over seeds:", "",
                  "| condition | " + " | ".join(f"{x} (n={t['task_baselines'][x]['n']})" for x in tasks) + " |",
                  "|---|" + "---|" * len(tasks)]
        for condition in [c for c in table["conditions"] if c in t["per_task"]]:
            values = t["per_task"][condition]
            lines.append(f"| {condition} | " + " | ".join(f"{values[x]:.3f}" if x in values else "refused"
                                                            for x in tasks) + " |")
        lines.append("| balanced chance (any constant answer) | " + " | ".join(
            f"{t['task_baselines'][x]['balanced_chance']:.3f}" if x in cls_tasks else "-" for x in tasks) + " |")
        lines.append("| majority-class rate (accuracy) | " + " | ".join(
            f"{t['task_baselines'][x]['majority_rate']:.3f}" + (" (!)" if t['task_baselines'][x]['majority_over_half'] else "")
            if x in cls_tasks else "-" for x in tasks) + " |")
        lines.append("")
        lines.append("(!) the majority class holds over half of the items: accuracy there says little; read balanced accuracy.")
        for task, note in sorted(t["baseline_notes"].items()):
            detail = (f": \"{note['caption']}\"" if "caption" in note
                      else f": {json.dumps(note['prior'], sort_keys=True)}" if "prior" in note else "")
            lines.append(f"- {task} baseline: {note['baseline']}{detail}")
        if t["missing"]:
            lines.append(f"- not run: {', '.join(t['missing'])} (their runs are missing)")
        for condition, refused in sorted(t.get("refused", {}).items()):
            for task, reason in sorted(refused.items()):
                lines.append(f"- {condition}, {task}: refused by the zero-shot guard: {reason}")
    return "\n".join(lines) + "\n"


README_BEGIN, README_END = "<!-- transfer-table:begin -->", "<!-- transfer-table:end -->"


def readme_markdown(table: dict) -> str:
    """The README's view of ``build``'s result: one table per encoder, each pooled value beside its paired
    difference against the reference transfer. Marginal intervals, accuracy, the differences against the constant
    baselines and the per-task scores stay in the full report (``to_markdown``)."""
    ref = table["reference"]
    lines = [_setting_line(table), "", f"Here each pooled value sits beside its paired difference against **{ref}**, "
             "the interval and verdict (better / worse / not distinguishable) being the difference's. The values' own "
             "intervals, accuracy, the differences against the constant baselines and every task: "
             "`reports/<preset>/transfer_table.md`."]
    for encoder in table.get("encoder_order", list(table["encoders"])):  # JSON files sort their keys
        t = table["encoders"][encoder]
        lines += ["", f"### {t['setting']}", "",
                  "| condition | " + " | ".join(f"{name} | vs {ref}" for name in KINDS.values()) + " |",
                  "|---|" + "---|---|" * len(KINDS)]
        for condition in table["conditions"]:
            c, d = t["conditions"].get(condition), t["differences"].get(condition) or {}
            refused = _refused_kinds(t, condition)
            cells = []
            for kind in KINDS:
                if c is None:
                    cells += ["not run", ""]
                elif kind in refused and not c.get(kind):
                    cells += ["refused: not zero-shot", ""]
                else:
                    value = f"{c[kind]['value']:.3f}" if c.get(kind) else "-"
                    difference = _cell(d[kind], True) if d.get(kind) else "(reference)" if condition == ref else ""
                    cells += [value, difference]
            lines.append(f"| {condition} | " + " | ".join(cells) + " |")
        b = t["baselines"]
        cells = [cell for kind in KINDS for cell in (f"{b[kind]['value']:.3f}" if b.get(kind) else "-", "")]
        lines.append("| constant answer / constant caption / question prior | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def readme_block(table: dict) -> str:
    return f"{README_BEGIN}\n{readme_markdown(table)}{README_END}"


def replace_readme_block(readme: str, table: dict) -> str:
    return replace_block(readme, README_BEGIN, README_END, readme_block(table))
