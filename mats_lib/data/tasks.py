"""Tasks and their dataset tags (the text put in the prompt so one model serves many label spaces).

The paper prefixes every instruction with a tag such as ``[audio caption audiocaps]`` or
``[single event]`` (the authors' released prompt format), in training and at test time. A record's ``task`` names its
source dataset; the tag follows from the task. Unknown tasks are an error (``register_task`` adds one).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    tag: str
    kind: str  # "classification" | "multilabel" | "caption" | "qa" | "open"
    instruction: str  # default instruction when a record has none


CAPTION_INSTRUCTION = "Describe the audio in one sentence."
CLASSIFY_INSTRUCTION = "What sound event is this? Answer with its label."
MULTI_INSTRUCTION = "List the sound events heard in this audio."
VOCAL_INSTRUCTION = "What kind of voice is this?"

_TASKS: dict[str, Task] = {}


def register_task(name: str, tag: str, kind: str, instruction: str = "") -> Task:
    if kind not in ("classification", "multilabel", "caption", "qa", "open"):
        raise ValueError(f"task {name!r}: unknown kind {kind!r}")
    task = Task(name, tag, kind, instruction)
    _TASKS[name] = task
    return task


def get_task(name: str) -> Task:
    try:
        return _TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(sorted(_TASKS))}") from None


def known_tasks() -> list[str]:
    return sorted(_TASKS)


# --- the paper's benchmark and AudioTIA-5M source tasks (real datasets, taken by path on GPU hosts)
# Tags as the release's evaluation configs give them (wangwen-banban/MATS, MATS-LLaMA/configs/eval/decode_*.yaml at
# commit 45d6571; tests/test_tasks.py holds that table). Training-only sets (MACS, WavCaps) have no config there.
for _name in ("esc50", "us8k", "vggsound", "dcase17", "fsd50k_single"):
    register_task(_name, "[single event]", "classification", CLASSIFY_INSTRUCTION)
register_task("tut", "[scene event]", "classification", "What acoustic scene is this?")
register_task("beijing_opera", "[instruction event]", "classification", "Which Beijing Opera instrument is playing?")
register_task("sesa", "[surveillance event]", "classification", CLASSIFY_INSTRUCTION)
register_task("ravdess", "[emotion event]", "classification", "What emotion does the voice express?")
register_task("fsd50k", "[multi events]", "multilabel", MULTI_INSTRUCTION)
register_task("audioset_strong", "[multi events]", "multilabel", MULTI_INSTRUCTION)
register_task("vocalsound", "[vocal event]", "classification", VOCAL_INSTRUCTION)
# CREMA-D is an emotion corpus: the release's emotion tag (its RAVDESS config), not the vocal-sound one.
register_task("cremad", "[emotion event]", "classification", "What emotion does the voice express?")
register_task("gtzan", "[music genres]", "classification", "What is the music genre?")
register_task("audiocaps", "[audio caption audiocaps]", "caption", CAPTION_INSTRUCTION)
register_task("clotho", "[audio caption clotho]", "caption", CAPTION_INSTRUCTION)
register_task("wavcaps", "[audio caption audiocaps]", "caption", CAPTION_INSTRUCTION)
register_task("macs", "[scene event]", "caption", CAPTION_INSTRUCTION)
register_task("musiccaps", "[music caption]", "caption", "Describe the music.")
register_task("clotho_aqa", "[audio qa]", "qa")
register_task("openaqa", "[open ended]", "open")
register_task("musicqa", "[open ended]", "open")

# --- the mini study (MiniAudio benchmark and AudioTIA-mini), tagged like their paper counterparts
for _name in ("cls_opensfx", "cls_wesnoth", "cls_animals", "cls_desktop", "cls_synth"):
    register_task(_name, "[single event]", "classification", CLASSIFY_INSTRUCTION)
register_task("cls_vocal", "[vocal event]", "classification", VOCAL_INSTRUCTION)
register_task("caption_scenes", "[audio caption audiocaps]", "caption", CAPTION_INSTRUCTION)
register_task("multi_scenes", "[multi events]", "multilabel", MULTI_INSTRUCTION)
register_task("qa_scenes", "[audio qa]", "qa")
register_task("tia_audioset_caption", "[audio caption audiocaps]", "caption", CAPTION_INSTRUCTION)
register_task("tia_scene_caption", "[audio caption audiocaps]", "caption", CAPTION_INSTRUCTION)
register_task("tia_class_description", "[single event]", "classification", CLASSIFY_INSTRUCTION)
register_task("tia_vocal", "[vocal event]", "classification", VOCAL_INSTRUCTION)
register_task("tia_multi_events", "[multi events]", "multilabel", MULTI_INSTRUCTION)
register_task("tia_qa", "[audio qa]", "qa")
