"""The synthetic part of MiniAudio: labelled clips made by sox and espeak-ng in milliseconds.

Each class is a recipe whose parameters (pitch, speed, length, voice, sentence) are drawn from a seeded
generator, so the same seed gives the same commands and, with ``sox -R`` (repeatable noise, no
dither), byte-identical files.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

SENTENCES = (
    "The train to the city leaves in five minutes.", "Please close the door behind you.",
    "It is going to rain this afternoon.", "Where did you put the keys?", "The meeting starts at noon.",
    "Turn left at the next corner.", "I will call you back later tonight.", "The soup is still too hot.",
    "Can you hear the birds outside?", "We need more paper for the printer.", "The garden looks lovely today.",
    "Remember to water the plants.",
)


def _sox(rng: np.random.Generator, label: str) -> list[str]:
    """sox effect chain (after `sox -R -n -r 16000 -b 16 -c 1 OUT`) for one clip of ``label``."""
    u = lambda lo, hi: f"{rng.uniform(lo, hi):.3f}"  # noqa: E731
    if label == "siren":
        lo, hi, period = rng.uniform(500, 800), rng.uniform(1100, 1600), rng.uniform(0.6, 1.4)
        return ["synth", f"{period:.3f}", "sine", f"{lo:.0f}:{hi:.0f}", "synth", f"{period:.3f}", "sine", "amod", "2",
                "repeat", str(int(rng.integers(2, 4))), "vol", u(0.4, 0.8)]
    if label == "telephone ringing":
        f = rng.uniform(400, 500)
        return ["synth", "0.4", "sine", f"{f:.0f}", "sine", f"{f + 40:.0f}", "pad", "0", "0.2", "synth", "0.4", "sine",
                "mix", "1", "repeat", str(int(rng.integers(3, 6))), "vol", u(0.3, 0.6)]
    if label == "white noise":
        return ["synth", u(2, 4), "whitenoise", "vol", u(0.2, 0.5)]
    if label == "rumbling noise":
        return ["synth", u(2, 4), "brownnoise", "lowpass", u(150, 400), "vol", u(0.6, 0.9)]
    if label == "alarm beeping":
        return ["synth", u(0.08, 0.15), "square", f"{rng.uniform(800, 2000):.0f}", "pad", "0", u(0.08, 0.2),
                "repeat", str(int(rng.integers(6, 12))), "vol", u(0.2, 0.4)]
    if label == "clock ticking":
        return ["synth", "0.02", "pinknoise", "highpass", "2000", "pad", "0", u(0.4, 0.55),
                "repeat", str(int(rng.integers(4, 8))), "vol", u(0.6, 0.9)]
    if label == "tone sweep":
        a, b = sorted(rng.uniform(200, 3000, 2))
        return ["synth", u(1.5, 3), "sine", f"{a:.0f}:{b:.0f}" if rng.random() < 0.5 else f"{b:.0f}:{a:.0f}",
                "vol", u(0.3, 0.6)]
    if label == "plucked string":
        notes = ["C3", "E3", "G3", "A3", "C4", "E4", "G4"]
        return ["synth", u(1.5, 3), "pluck", str(rng.choice(notes)), "vol", u(0.5, 0.9)]
    raise ValueError(f"no sox recipe for {label!r}")


SOX_CLASSES = ("siren", "telephone ringing", "white noise", "rumbling noise", "alarm beeping", "clock ticking",
               "tone sweep", "plucked string")
VOICE_CLASSES = {"man speaking": ("m1", "m3", "m7"), "woman speaking": ("f1", "f3", "f4"), "whispering": ("whisper",)}


def check_tools() -> None:
    missing = [t for t in ("sox", "espeak-ng") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found: run `make setup` (scripts/install_system_packages.sh)")


def make_clip(label: str, out: Path, rng: np.random.Generator) -> None:
    """Write one 16 kHz mono 16-bit clip of ``label`` to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if label in VOICE_CLASSES:
        voice = str(rng.choice(VOICE_CLASSES[label]))
        sentence = str(rng.choice(SENTENCES))
        speed = int(rng.integers(140, 190))
        raw = out.with_suffix(".espeak.wav")
        subprocess.run(["espeak-ng", "-v", f"en+{voice}", "-s", str(speed), "-w", str(raw), sentence],
                       check=True, capture_output=True)
        subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-b", "16", "-c", "1", str(out)],
                       check=True, capture_output=True)
        raw.unlink()
        return
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-b", "16", "-c", "1", str(out), *_sox(rng, label)],
                   check=True, capture_output=True)


def synth_classes() -> list[str]:
    return [*SOX_CLASSES, *VOICE_CLASSES]
