"""Feed a trained model the *text* embedding of held-out captions and print what it regenerates.

    python -m mats_lib.cli.caption_examples build/runs/mini-text-tagclap-seed0 [--n 5]
    python -m mats_lib.cli.caption_examples --config mini --encoder tagclap --seed 0      # the preset's text-only run
    ... --out reports/mini/caption_examples.md                                        # also keep the table

Held-out captions are eval-scene captions, which the zero-shot filter keeps out of the training corpus.
A model that learned the mapping regenerates a caption close to its input: the text-only half of MATS.
"""
from __future__ import annotations

import argparse
import json

import torch

from ..runs import finished_run, load_run, run_config
from ..encoders import encoder_from_config
from ..inference import Decoding, generate
from ..paths import data_dir, report_path
from ..provenance import write_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", help="run folder (default: the preset's text-only run)")
    parser.add_argument("--config", default="mini")
    parser.add_argument("--encoder", default="tagclap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--out", help="also write the table (Markdown, with the run it came from) to this file")
    args = parser.parse_args()
    run = args.run or finished_run(run_config(args.config, args.encoder, args.seed, "text"))
    loaded = load_run(run)
    model, cfg = loaded.model, loaded.config
    scenes = [s for s in json.loads((data_dir() / "miniaudio" / "scenes.json").read_text()) if s["split"] == "eval"]
    captions = [s["caption"] for s in scenes[:: max(1, len(scenes) // args.n)][: args.n]]
    encoder = encoder_from_config(cfg.encoder, progress=False)
    embeddings = torch.from_numpy(encoder.embed_text(captions))
    outputs = generate(model, embeddings, ["caption_scenes"] * len(captions), [None] * len(captions),
                       Decoding(num_beams=args.beams, max_new_tokens=40))
    rows = [f"| {caption} | {output} |" for caption, output in zip(captions, outputs)]
    table = "\n".join(["| held-out caption (its text embedding is the input) | regenerated |", "|---|---|", *rows])
    print(table)
    if args.out:
        header = (f"# Captions regenerated from their text embedding\n\nRun `{report_path(run)}`, beam {args.beams}, "
                  f"{len(captions)} eval-scene captions (held out of training by the zero-shot filter).\n\n")
        write_atomic(args.out, header + table + "\n")


if __name__ == "__main__":
    main()
