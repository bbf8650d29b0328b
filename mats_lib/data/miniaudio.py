"""MiniAudio: the zero-shot benchmark of the mini study, built from the packaged real audio.

Label sets (one classification task each; rules in ``labels.py``):
    opensfx  OpenTTD's 71 effects, by title            wesnoth  Wesnoth's effects, by file name
    animals  the 10 packaged animal clips              desktop  sound-icons + freedesktop sounds
    vocal    a seeded sample of the Asterisk speech prompts ("woman speaking") + espeak-ng voices
    synth    sox recipes (sirens, rings, noises, beeps, ticks, sweeps, plucks)

Source clips are split per label set into an audio-train part (``train_fraction``, used only by the
audio-supervised control MATS-Audio) and the eval part (the zero-shot test set). Scenes mixing 1-3 clips
are built within each part and carry the captioning, multi-label and QA tasks. Records use the paper's
eval format: ``audio_id`` (relative to the data root), ``output``, ``task``, ``instruction``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm  # text bars: tqdm.auto wants ipywidgets in a kernel and warns without it

from ..assets import assets_dir, list_source_clips
from ..audio import load_audio
from ..seed import make_generators
from .io import write_json, write_jsonl
from .audiotia import normalise, signature
from .labels import category, file_label, opensfx_label
from .scenes import SCENE_RATE, caption, plan_scene, questions, render_scene
from .synth import SOX_CLASSES, VOICE_CLASSES, make_clip
from .tasks import get_task

LABEL_SETS = ("opensfx", "wesnoth", "animals", "desktop", "vocal", "synth")
SOURCE_LABEL_SET = {"opensfx": "opensfx", "wesnoth": "wesnoth", "animals": "animals", "sound_icons": "desktop",
                    "freedesktop": "desktop", "speech": "vocal"}


@dataclass(frozen=True)
class BenchmarkConfig:
    seed: int = 0
    train_fraction: float = 0.25  # most clips go to eval: the train part only feeds the MATS-Audio control
    speech_sample: int = 40  # Asterisk prompts taken (one voice, so a small sample suffices)
    synth_per_class: int = 8
    voices_per_class: int = 6
    eval_scenes: int = 200
    train_scenes: int = 150


@dataclass
class Clip:
    clip_id: str  # audio_id relative to the data root
    source: str
    label_set: str
    label: str
    real: bool
    split: str = ""
    seconds: float = 0.0


def _real_clips(cfg: BenchmarkConfig, rng: np.random.Generator) -> list[Clip]:
    clips = []
    for source, label_set in SOURCE_LABEL_SET.items():
        items = list_source_clips(source)
        if source == "speech":
            items = [items[i] for i in sorted(rng.choice(len(items), cfg.speech_sample, replace=False))]
        for item in items:
            label = ("woman speaking" if source == "speech" else
                     opensfx_label(item.raw_name) if source == "opensfx" else file_label(item.raw_name))
            clips.append(Clip(f"sources/{source}/{item.path.name}", source, label_set, label, real=True))
    return clips


def _synth_clips(root: Path, cfg: BenchmarkConfig, rng: np.random.Generator) -> list[Clip]:
    clips = []
    plan = [(label, cfg.synth_per_class, "synth") for label in SOX_CLASSES]
    plan += [(label, cfg.voices_per_class, "vocal") for label in VOICE_CLASSES]
    for label, count, label_set in plan:
        for k in range(count):
            clip_id = f"synth/{label.replace(' ', '_')}_{k:02d}.wav"
            make_clip(label, root / clip_id, rng)
            clips.append(Clip(clip_id, "synth", label_set, label, real=False))
    return clips


def _split(clips: list[Clip], fraction: float, rng: np.random.Generator) -> None:
    """Per label set, a seeded permutation: the first ``fraction`` go to 'train', the rest to 'eval'."""
    for label_set in LABEL_SETS:
        members = [c for c in clips if c.label_set == label_set]
        n_train = int(round(fraction * len(members)))
        for rank, i in enumerate(rng.permutation(len(members))):
            members[i].split = "train" if rank < n_train else "eval"


def _classification_records(clips: list[Clip], split: str) -> dict[str, list[dict]]:
    records: dict[str, list[dict]] = {}
    for clip in clips:
        if clip.split == split:
            task = get_task(f"cls_{clip.label_set}")
            records.setdefault(task.name, []).append(
                {"audio_id": clip.clip_id, "output": clip.label, "task": task.name, "instruction": task.instruction})
    return records


def _scenes(root: Path, clips: list[Clip], waves: dict[str, np.ndarray], split: str, count: int,
            rng: np.random.Generator) -> tuple[list[dict], dict[str, list[dict]]]:
    pool = [(c.clip_id, c.label, c.seconds) for c in clips if c.split == split and c.real]
    distractors = sorted({c.label for c in clips if c.split == split})
    scenes, records = [], {"caption_scenes": [], "multi_scenes": [], "qa_scenes": []}
    for k in tqdm(range(count), desc=f"scenes ({split})", leave=False):
        scene = plan_scene(f"{split}_{k:04d}", pool, rng)
        audio_id = f"scenes/{split}/scene_{k:04d}.wav"
        out = root / audio_id
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, render_scene(scene, waves), SCENE_RATE, subtype="PCM_16")
        text = caption(scene, rng)
        qa = questions(scene, distractors, rng)
        ordered = [e.label for e in sorted(scene.events, key=lambda e: (e.background, e.onset))]
        scenes.append({**scene.to_dict(), "audio_id": audio_id, "caption": text, "qa": qa, "split": split})
        records["caption_scenes"].append({"audio_id": audio_id, "output": text, "task": "caption_scenes",
                                          "instruction": get_task("caption_scenes").instruction})
        records["multi_scenes"].append({"audio_id": audio_id, "output": ", ".join(ordered), "task": "multi_scenes",
                                        "instruction": get_task("multi_scenes").instruction})
        records["qa_scenes"] += [{"audio_id": audio_id, "output": a, "task": "qa_scenes", "instruction": q} for q, a in qa]
    return scenes, records


def _without_eval_captions(records: list[dict], eval_captions: list[str]) -> list[dict]:
    """The audio-train caption records minus those whose caption an eval scene also has (up to case, order, stop
    words): a one-event scene's caption ("Magic missile is heard.") can recur across splits, and MATS-Audio trained
    on it would not be zero-shot on that reference. The scene keeps its audio and its other tasks."""
    exact, near = {normalise(t) for t in eval_captions}, {signature(t) for t in eval_captions}
    return [r for r in records if normalise(r["output"]) not in exact and signature(r["output"]) not in near]


def build_benchmark(root: Path, cfg: BenchmarkConfig) -> dict:
    """Build MiniAudio under ``root`` (the data root). Returns a summary with counts."""
    gens = make_generators(cfg.seed)
    root.mkdir(parents=True, exist_ok=True)
    sources = root / "sources"
    if not sources.exists():  # the real clips stay where `make assets` put them
        sources.symlink_to(os.path.relpath(assets_dir() / "audio", root))

    clips = _real_clips(cfg, gens.child("speech-sample").numpy) + _synth_clips(root, cfg, gens.child("synth").numpy)
    _split(clips, cfg.train_fraction, gens.child("split").numpy)
    waves = {}
    for clip in tqdm(clips, desc="loading clips", leave=False):
        waves[clip.clip_id] = load_audio(root / clip.clip_id, SCENE_RATE)
        clip.seconds = round(waves[clip.clip_id].shape[0] / SCENE_RATE, 3)

    summary = {"clips": {}, "scenes": {}, "records": {}, "train_captions_dropped_for_zero_shot": 0}
    all_scenes = []
    for split, count in (("eval", cfg.eval_scenes), ("train", cfg.train_scenes)):
        records = _classification_records(clips, split)
        scenes, scene_records = _scenes(root, clips, waves, split, count, gens.child(f"scenes-{split}").numpy)
        if split == "train":
            kept = _without_eval_captions(scene_records["caption_scenes"],
                                          [s["caption"] for s in all_scenes if s["split"] == "eval"])
            summary["train_captions_dropped_for_zero_shot"] = len(scene_records["caption_scenes"]) - len(kept)
            scene_records["caption_scenes"] = kept
        records.update(scene_records)
        all_scenes += scenes
        for task, rows in sorted(records.items()):
            write_jsonl(root / split / f"{task}.jsonl", rows)
            summary["records"][f"{split}/{task}"] = len(rows)
        part = [c for c in clips if c.split == split]
        summary["clips"][split] = {"real": sum(c.real for c in part), "synthetic": sum(not c.real for c in part),
                                   "real_classes": len({(c.label_set, c.label) for c in part if c.real})}
        summary["scenes"][split] = len(scenes)

    label_sets = {}
    for label_set in LABEL_SETS:
        labels = sorted({c.label for c in clips if c.label_set == label_set})
        label_sets[f"cls_{label_set}"] = {"labels": labels, "categories": {l: category(l) for l in labels}}
    scene_labels = sorted({e["label"] for s in all_scenes for e in s["events"]})
    label_sets["multi_scenes"] = {"labels": scene_labels, "categories": {l: category(l) for l in scene_labels}}
    write_json(root / "labels.json", label_sets)
    write_json(root / "clips.json", [c.__dict__ for c in clips])
    write_json(root / "scenes.json", all_scenes)
    return summary
