"""Zero-shot figures of a CLAP-role encoder on the packaged real audio.

    python -m mats_lib.cli.encoder_report [--encoder tagclap] [--out reports/encoder_report.json]

- animals: the 10 packaged animal clips classified against "the sound of a <name>" (chance 1/10);
- OpenSFX: text->audio retrieval, each of the 71 effect titles querying the 71 clips (chance R@1 = 1/71).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

import numpy as np

from ..assets import list_source_clips
from ..prompts import ANIMAL_PROMPT
from ..encoders import create_encoder
from ..encoder_metrics import recall_at_k, zero_shot_predictions
from ..seed import seed_everything


def opensfx_title(raw_name: str) -> str:
    """'"Toyland: Jet take off". Original ... License: ...' -> 'Jet take off'."""
    title = raw_name.split('"')[1] if raw_name.count('"') >= 2 else raw_name
    title = re.sub(r"^(Toyland|Tropical|Arctic|Sub-?arctic|Temperate):\s*", "", title)
    return re.sub(r"\s*\(\d+\)$", "", title).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="tagclap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("reports/encoder_report.json"))
    args = parser.parse_args()
    seed_everything(args.seed)  # the encoder is deterministic; seeded anyway so every run is alike
    encoder = create_encoder(args.encoder)
    start = time.perf_counter()

    animals = list_source_clips("animals")
    names = [c.path.stem for c in animals]
    predictions = zero_shot_predictions(encoder.embed_audio([c.path for c in animals]),
                                        encoder.embed_text([ANIMAL_PROMPT.format(n) for n in names]))
    animal_correct = int((predictions == np.arange(len(names))).sum())

    effects = list_source_clips("opensfx")
    titles = [opensfx_title(c.raw_name) for c in effects]
    audio = encoder.embed_audio([c.path for c in effects])
    text = encoder.embed_text(titles)
    result = {
        "encoder": args.encoder, "settings": encoder.settings(),
        "animals_zero_shot": {"correct": animal_correct, "total": len(names), "chance": 1 / len(names),
                              "predicted": {n: names[p] for n, p in zip(names, predictions)}},
        "opensfx_text_to_audio": {"n": len(effects), "R@1": recall_at_k(text, audio, 1),
                                  "R@5": recall_at_k(text, audio, 5), "chance_R@1": 1 / len(effects),
                                  "chance_R@5": 5 / len(effects)},
        "machine": platform.processor() or platform.machine(),
    }  # the wall time is printed, not kept: the report's bytes depend on what made it only (steps keep the time)
    r = result["opensfx_text_to_audio"]
    print(f"encoder {args.encoder}")
    print(f"  animals zero-shot      {animal_correct}/{len(names)}   (chance 1/{len(names)})")
    print(f"  OpenSFX text->audio    R@1 {r['R@1']:.3f}  R@5 {r['R@5']:.3f}   (chance {r['chance_R@1']:.3f} / {r['chance_R@5']:.3f}, n={r['n']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written to {args.out} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
