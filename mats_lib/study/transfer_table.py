"""The transfer table computed: every condition of the study evaluated on its runs (parts reused by key), the
constant baselines beside them, per encoder over training seeds. ``analysis.transfer_table`` renders it.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..analysis.item_table import top_answer_share
from ..analysis.transfer_table import CONDITIONS, ENCODER_SETTING, EXTRA_PAIRS, KINDS, REFERENCE, _by_kind, task_scores
from ..baselines import (best_constant_caption, constant_answer_items, constant_caption_items, fit_question_prior,
                         question_prior_items)
from ..config import Config, load_config
from ..data.records import load_eval_records
from ..data.sources import corpus_records
from ..data.tasks import get_task
from ..evaluation import ZeroShotError, evaluate_run, items_root, task_records, training_texts, zero_shot_guard
from ..paths import eval_dir
from ..runs import MissingRunError, finished_run, run_config
from ..stats import TaskScores, bootstrap, paired_difference
from .plan import ensure_runs
from .item_rows import baseline_rows, condition_rows


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


def encoder_table(preset: str, encoder: str, seeds: list[int], conditions: list[str], *, overrides: dict | None = None,
                  resamples: int | None = None, item_rows: list | None = None, **evaluate_kw) -> dict:
    """One encoder's table; ``item_rows`` (a list) receives the per-item rows of every condition and baseline."""
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
    rows = [row for condition, r in results.items() for row in condition_rows(encoder, condition, r)]
    # C1: a model that says one thing to most clips is seen as such, whatever its score
    table["top_answer_share"] = {c: {kind: share for kind in KINDS
                                     if (share := top_answer_share(rows, encoder, c, kind)) is not None}
                                 for c in results}
    if item_rows is not None:
        item_rows += rows + baseline_rows(cfg, encoder, seeds, constant, baseline_notes)
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


def condition_run_folders(preset: str, encoders: list[str], seeds: list[int], conditions: list[str]) -> list[Path]:
    """The finished runs the conditions read (text, nonoise or audio per encoder and seed); missing ones are left out."""
    kinds = sorted({CONDITIONS[c][0] for c in conditions})
    folders = []
    for cfg in (run_config(preset, e, s, k) for e in encoders for s in seeds for k in kinds):
        try:
            folders.append(finished_run(cfg))
        except MissingRunError:
            continue
    return folders


def ensure_condition_runs(preset: str, encoders: list[str], seeds: list[int], conditions: list[str]) -> None:
    """Train (or reuse by key) every run the conditions need: text, nonoise or audio, per encoder and seed."""
    kinds = sorted({CONDITIONS[c][0] for c in conditions})
    ensure_runs([run_config(preset, encoder, seed, kind) for encoder in encoders for seed in seeds for kind in kinds])
