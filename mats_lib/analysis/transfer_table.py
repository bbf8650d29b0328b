"""The transfer comparison: the paper's conditions on the same items, with baselines and paired intervals.

Conditions (docs/evaluation.md) pair a training run with a transfer of the audio embedding:

| condition  | run                          | transfer   |
|------------|------------------------------|------------|
| raw        | trained without noise        | plain      |
| noise      | noise-trained (CapDec)       | plain      |
| memory     | noise-trained                | memory (DRCap) |
| santa      | noise-trained                | santa      |
| added_noise | noise-trained               | added_noise (an extra: the training noise added to the audio) |
| mean_shift | noise-trained                | mean_shift (an extra, Liang et al. 2022: the audio-train pairs' mean text-minus-audio offset added) |
| MATS-Audio | trained on audio embeddings  | plain      |

Every condition is scored on the same items of every task, for each training seed; a comparison is the
paired difference against the noise-trained model's plain transfer ("noise") and against the constant
answer, with a hierarchical bootstrap over training seeds and items (``mats_lib.stats``). Returns plain
dicts (JSON) and Markdown; no plotting.
"""
from __future__ import annotations

import json

import numpy as np

from ..config import load_config
from ..data.tasks import get_task
from ..stats import TaskScores

CONDITIONS = {"raw": ("nonoise", "plain"), "noise": ("text", "plain"), "memory": ("text", "memory"),
              "santa": ("text", "santa"), "added_noise": ("text", "added_noise"), "mean_shift": ("text", "mean_shift"),
              "MATS-Audio": ("audio", "plain")}
REFERENCE = "noise"
# comparisons the claims need beyond "against noise": (a, b) -> a - b
EXTRA_PAIRS = (("santa", "memory"), ("santa", "MATS-Audio"), ("noise", "raw"))
KINDS = {"classification": "balanced accuracy", "caption": "CIDEr-D", "qa": "QA accuracy"}  # kind: its metric
ENCODER_SETTING = {"tagclap": "tagclap (YAMNet + MiniLM, training-free, 384-d)",
                   "miniclap": "miniclap (tagclap + contrastive heads trained on the audio-train split, 768-d)"}


# ------------------------------------------------------------------------------------------ evaluation


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


# ------------------------------------------------------------------------------------------ the table
def _by_kind(scores: dict[str, TaskScores], kind: str) -> dict[str, TaskScores]:
    return {t: s for t, s in scores.items() if get_task(t).kind == kind}


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
        if t.get("top_answer_share"):
            lines += ["", "Share of items that got the condition's most frequent answer in their task (near 1: it says one "
                      "thing to most clips, whatever its score):", "",
                      "| condition | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
            for condition in [c for c in table["conditions"] if c in t["top_answer_share"]]:
                shares = t["top_answer_share"][condition]
                lines.append(f"| {condition} | " + " | ".join(f"{shares[k]:.2f}" if k in shares else "-" for k in KINDS) + " |")
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
