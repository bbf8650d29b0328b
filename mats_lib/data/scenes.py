"""Scenes: mixtures of 1-3 labelled clips at known onsets and levels, with captions and QA true by construction.

Each scene is a 6 s, 16 kHz mixture in one of four layouts (the DCASE way of synthesising soundscapes):
``single`` (one event), ``sequence`` (events one after another), ``overlap`` (two events at once) and
``background`` (a quiet bed under one or two foreground events). Every event is RMS-normalised, then
scaled by a drawn gain; the caption and the questions are written from that timeline, so they are true.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .labels import CATEGORY_QUESTION, category, noun_phrase

SCENE_RATE = 16000
SCENE_SECONDS = 6.0
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}


@dataclass
class Event:
    clip: str  # clip id (source/file)
    label: str
    onset: float  # seconds
    offset: float
    gain_db: float
    background: bool = False


@dataclass
class Scene:
    scene_id: str
    layout: str
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"scene_id": self.scene_id, "layout": self.layout, "events": [asdict(e) for e in self.events]}


def plan_scene(scene_id: str, pool: list[tuple[str, str, float]], rng: np.random.Generator) -> Scene:
    """Draw a layout and 1-3 clips of distinct labels from ``pool`` = [(clip id, label, seconds)]."""
    layout = str(rng.choice(["single", "sequence", "sequence", "overlap", "background"]))
    n = {"single": 1, "sequence": int(rng.integers(2, 4)), "overlap": 2, "background": int(rng.integers(2, 4))}[layout]
    chosen, labels = [], set()
    for i in rng.permutation(len(pool)):
        if pool[i][1] not in labels:
            chosen.append(pool[i])
            labels.add(pool[i][1])
        if len(chosen) == n:
            break
    scene = Scene(scene_id, layout)
    t = float(rng.uniform(0.1, 0.6))
    for k, (clip, label, seconds) in enumerate(chosen):
        length = min(seconds, 2.6 if layout == "sequence" else 4.0)
        if layout == "background" and k == 0:
            scene.events.append(Event(clip, label, 0.0, SCENE_SECONDS, float(rng.uniform(-16, -10)), True))
            continue
        if layout in ("sequence", "background") and scene.events and not scene.events[-1].background:
            t = scene.events[-1].offset + float(rng.uniform(0.1, 0.5))
        if layout == "overlap" and k == 1:
            t = scene.events[0].onset + float(rng.uniform(0.2, 1.0))
        onset = min(t, SCENE_SECONDS - 0.5)
        scene.events.append(Event(clip, label, round(onset, 3), round(min(onset + length, SCENE_SECONDS), 3),
                                  float(rng.uniform(-6, 0))))
    return scene


def render_scene(scene: Scene, waves: dict[str, np.ndarray]) -> np.ndarray:
    """Mix the events (waves at 16 kHz, keyed by clip id) into a [6 s] float32 scene, peak-limited to 0.95."""
    out = np.zeros(int(SCENE_SECONDS * SCENE_RATE), dtype=np.float64)
    for event in scene.events:
        wave = waves[event.clip].astype(np.float64)
        n = int(round((event.offset - event.onset) * SCENE_RATE))
        if wave.shape[0] < n:
            wave = np.tile(wave, -(-n // wave.shape[0]))  # a background bed is looped over the whole scene
        wave = wave[:n]
        rms = np.sqrt(np.mean(wave**2))
        if rms > 1e-6:
            wave = wave / rms * 0.05 * 10 ** (event.gain_db / 20)  # -26 dBFS reference level
        start = int(round(event.onset * SCENE_RATE))
        out[start : start + wave.shape[0]] += wave[: out.shape[0] - start]
    peak = np.abs(out).max()
    if peak > 0.95:
        out *= 0.95 / peak
    return out.astype(np.float32)


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def caption(scene: Scene, rng: np.random.Generator) -> str:
    """One sentence that is true of the timeline: order ('then'), overlap ('while'), background."""
    fg = [e for e in scene.events if not e.background]
    bg = [e for e in scene.events if e.background]
    parts = [noun_phrase(fg[0].label)]
    for prev, cur in zip(fg, fg[1:]):
        joiner = str(rng.choice([", then ", " followed by "])) if cur.onset >= prev.offset else " while "
        parts.append(joiner + noun_phrase(cur.label) + (" is heard" if joiner == " while " else ""))
    text = "".join(parts)
    if len(fg) == 1 and not bg:
        text = str(rng.choice(["{} is heard", "{} can be heard", "the sound of {}"])).format(text)
    if bg:
        text += str(rng.choice([" with {} in the background", " over a background of {}"])).format(noun_phrase(bg[0].label))
    return _cap(text) + "."


def questions(scene: Scene, distractors: list[str], rng: np.random.Generator) -> list[tuple[str, str]]:
    """(question, answer) pairs true of the scene; ``distractors`` are labels for 'no' answers."""
    labels = [e.label for e in scene.events]
    fg = sorted((e for e in scene.events if not e.background), key=lambda e: e.onset)
    pairs = [("How many different sounds are there?", NUMBER_WORDS[len(labels)])]
    if len(fg) >= 2 and fg[1].onset >= fg[0].offset:
        pairs.append(("Which sound is heard first?", fg[0].label))
    absent = [d for d in distractors if d not in labels]
    if rng.random() < 0.5 and absent:
        pairs.append((f"Is there {noun_phrase(str(rng.choice(absent)))} in the recording?", "no"))
    else:
        pairs.append((f"Is there {noun_phrase(str(rng.choice(labels)))} in the recording?", "yes"))
    for e in scene.events:
        cat = category(e.label)
        if cat in CATEGORY_QUESTION and sum(category(x) == cat for x in labels) == 1:
            pairs.append((CATEGORY_QUESTION[cat], e.label))
            break
    return pairs
