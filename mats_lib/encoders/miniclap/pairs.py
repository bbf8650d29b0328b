"""MiniCLAP's training pairs: MiniAudio clips with templated captions, and mixtures of 2-3 clips.

Only clips of one split are ever used together (the audio-train split for training; the report builds
eval mixtures from eval clips the same way). Labels are dealt into ``groups`` class-disjoint groups by a
seeded permutation, and every mixture draws its clips from one group, so a class-disjoint fold (train on
all groups but k, validate on group k) can use the mixtures as they are.
Mixtures reuse MiniAudio's scene planner, renderer and captioner (``data/scenes.py``): overlapping,
sequential and background layouts, with captions true of the timeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm  # text bars: tqdm.auto wants ipywidgets in a kernel and warns without it

from ...audio import load_audio
from ...data.labels import noun_phrase
from ...data.scenes import SCENE_RATE, caption, plan_scene, render_scene

CLIP_TEMPLATES = ("the sound of {}", "{} is heard", "{} can be heard", "{}")


def clip_captions(label: str) -> list[str]:
    phrase = noun_phrase(label)
    return [t.format(phrase)[0].upper() + t.format(phrase)[1:] + "." for t in CLIP_TEMPLATES]


def label_groups(labels: list[str], n_groups: int, rng: np.random.Generator) -> dict[str, int]:
    """Deal the distinct labels into ``n_groups`` groups (seeded permutation, round robin)."""
    distinct = sorted(set(labels))
    return {distinct[i]: rank % n_groups for rank, i in enumerate(rng.permutation(len(distinct)))}


@dataclass
class AudioItems:
    """Audio items (clips or mixtures) with their captions; the unit of training and evaluation."""

    ids: list[str] = field(default_factory=list)  # clip id, or a mixture's id
    kind: list[str] = field(default_factory=list)  # "clip" | "mixture"
    captions: list[list[str]] = field(default_factory=list)  # one is drawn per use
    key: list[str] = field(default_factory=list)  # items with equal keys are positives of each other
    labels: list[list[str]] = field(default_factory=list)
    sources: list[list[str]] = field(default_factory=list)
    members: list[list[str]] = field(default_factory=list)  # the clip ids heard in the item
    features: np.ndarray | None = None  # [n, 2432]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: list[int]) -> "AudioItems":
        out = AudioItems(**{name: [getattr(self, name)[i] for i in keep]
                            for name in ("ids", "kind", "captions", "key", "labels", "sources", "members")})
        out.features = None if self.features is None else self.features[keep]
        return out

    def extend(self, other: "AudioItems") -> "AudioItems":
        out = AudioItems(**{name: getattr(self, name) + getattr(other, name)
                            for name in ("ids", "kind", "captions", "key", "labels", "sources", "members")})
        out.features = np.concatenate([self.features, other.features])
        return out


def clip_items(root: Path, clips: list[dict], towers) -> AudioItems:
    """One item per clip (dicts from clips.json), captioned by every template; key = its label."""
    items = AudioItems(ids=[c["clip_id"] for c in clips], kind=["clip"] * len(clips),
                       captions=[clip_captions(c["label"]) for c in clips], key=[f"label:{c['label']}" for c in clips],
                       labels=[[c["label"]] for c in clips], sources=[[c["source"]] for c in clips],
                       members=[[c["clip_id"]] for c in clips])
    items.features = towers.embed_audio([root / c["clip_id"] for c in clips]) if clips else np.zeros((0, towers.dim), np.float32)
    return items


def mixture_items(root: Path, clips: list[dict], count: int, rng: np.random.Generator, towers, prefix: str,
                  chunk: int = 200) -> AudioItems:
    """``count`` mixtures of 2-3 clips of distinct labels from ``clips``; key = the caption."""
    if len({c["label"] for c in clips}) < 3:
        raise ValueError(f"{prefix}: mixtures need at least 3 distinct labels in the pool")
    by_id = {c["clip_id"]: c for c in clips}
    waves = {c["clip_id"]: load_audio(root / c["clip_id"], SCENE_RATE) for c in clips}
    pool = [(c["clip_id"], c["label"], waves[c["clip_id"]].shape[0] / SCENE_RATE) for c in clips]
    scenes, captions = [], []
    while len(scenes) < count:
        scene = plan_scene(f"{prefix}_{len(scenes):05d}", pool, rng)
        if len(scene.events) < 2:  # single-clip scenes: the clips themselves are already items
            continue
        scenes.append(scene)
        captions.append(caption(scene, rng))
    items = AudioItems(ids=[s.scene_id for s in scenes], kind=["mixture"] * count, captions=[[c] for c in captions],
                       key=captions, labels=[[e.label for e in s.events] for s in scenes],
                       sources=[sorted({by_id[e.clip]["source"] for e in s.events}) for s in scenes],
                       members=[[e.clip for e in s.events] for s in scenes])
    parts = []
    for start in tqdm(range(0, count, chunk), desc=f"{prefix}: mixtures", leave=False, disable=count <= chunk):
        parts.append(towers.embed_audio([render_scene(s, waves) for s in scenes[start : start + chunk]]))
    items.features = np.concatenate(parts) if parts else np.zeros((0, towers.dim), np.float32)
    return items


def training_items(root: Path, clips: list[dict], groups: dict[str, int], mixtures_per_group: int,
                   gens, towers) -> AudioItems:
    """The audio-train clips plus, per label group, mixtures of that group's clips. Raises if given eval clips."""
    if any(c["split"] != "train" for c in clips):
        raise ValueError("miniclap training pairs come from the audio-train split only")
    items = clip_items(root, clips, towers)
    for g in sorted(set(groups.values())):
        members = [c for c in clips if groups[c["label"]] == g]
        items = items.extend(mixture_items(root, members, mixtures_per_group, gens.child(f"mixtures-{g}").numpy,
                                           towers, prefix=f"train_g{g}"))
    return items
