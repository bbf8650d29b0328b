"""Decoder oracle: classification accuracy when the model is fed the text embedding of the true label.

    python -m mats_lib.cli.decoder_oracle build/runs/mini-text-tagclap-seed0 [--max-items 64]

Separates the two ways a text-only model can fail on audio: the decoder (it cannot name the class even
from its own modality) and the transfer (it can, but not from audio). For each classification task of
MiniAudio's eval part (the same seeded subsets as the evaluation runner), three inputs go through the
trained model with greedy decoding: `text` = the CLAP text embedding of "The sound of <label>.",
`text+noise` = the same with the run's training noise, `raw` = the clip's audio embedding.
"""
from __future__ import annotations

import argparse
import json

import torch

from ..config import resolve_path
from ..data.records import load_eval_records
from ..data.tasks import get_task
from ..prompts import LABEL_CAPTION
from ..encoders import encoder_from_config
from ..evaluation import eval_subset, scorer_encoder
from ..inference import Decoding, generate
from ..metrics import accuracy_items, postprocess
from ..noise import noisy_unit
from ..seed import derive_seed
from ..runs import load_run

INPUTS = ("text", "text+noise", "raw")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--max-items", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="subset and noise seed (the runner's default)")
    args = parser.parse_args()
    loaded = load_run(args.run)
    model, cfg, variance = loaded.model, loaded.config, loaded.noise_variance
    encoder = encoder_from_config(cfg.encoder, progress=False)
    scorer = scorer_encoder("minilm")  # the study's one scorer, whatever the run's CLAP
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    labels = json.loads((root / "labels.json").read_text())
    decoding = Decoding(num_beams=1, max_new_tokens=12)
    print(f"{args.run}: noise variance {variance:.4g}; greedy; at most {args.max_items} items per task")
    print(f"{'task':14s} {'n':>3s} {'chance':>7s} " + " ".join(f"{name:>10s}" for name in INPUTS))
    for task in sorted(t for t in labels if get_task(t).kind == "classification"):
        records, _ = load_eval_records(root / "eval" / f"{task}.jsonl", root)
        records = eval_subset(records, task, args.max_items, args.seed)
        references = [r["output"] for r in records]
        text = torch.from_numpy(encoder.embed_text([LABEL_CAPTION.format(label) for label in references]))
        inputs = {"text": text,
                  "text+noise": noisy_unit(text, variance, torch.Generator().manual_seed(derive_seed(args.seed, task))),
                  "raw": torch.from_numpy(encoder.embed_audio([root / r["audio_id"] for r in records]))}
        scores = []
        for name in INPUTS:
            predictions = []
            for start in range(0, len(records), 32):
                batch = records[start : start + 32]
                predictions += [postprocess(t) for t in generate(model, inputs[name][start : start + 32],
                                                                 [r["task"] for r in batch],
                                                                 [r.get("instruction") for r in batch], decoding)]
            scores.append(float(accuracy_items(predictions, references, labels[task]["labels"], scorer).mean()))
        print(f"{task:14s} {len(records):3d} {1 / len(labels[task]['labels']):7.3f} " + " ".join(f"{v:10.3f}" for v in scores))


if __name__ == "__main__":
    main()
