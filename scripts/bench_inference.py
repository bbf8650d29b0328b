"""Speed of inference: batched vs one-by-one generation, Santa's share of the cost, k-means vs exact retrieval.

    python scripts/bench_inference.py build/runs/mini-text-tagclap-seed0 [--n 32] [--batch 16]

Prints throughputs and ratios (no assertion: speed goals are read, not tested).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from mats_lib.evaluation import corpus_captions, memory_bank
from mats_lib.encoders import encoder_from_config
from mats_lib.inference import Decoding, generate, load_trained
from mats_lib.paths import data_dir
from mats_lib.santa import SantaSettings, santa


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    model, cfg = load_trained(args.run)
    encoder = encoder_from_config(cfg.encoder, progress=False)
    root = data_dir() / "miniaudio"
    records = [json.loads(l) for l in (root / "eval" / "caption_scenes.jsonl").read_text().splitlines()][: args.n]
    audio = torch.from_numpy(encoder.embed_audio([root / r["audio_id"] for r in records]))
    decoding = Decoding(num_beams=4, max_new_tokens=30)
    tasks, questions = ["caption_scenes"] * len(records), [None] * len(records)
    generate(model, audio[:2], tasks[:2], questions[:2], decoding)  # warm-up

    batched = timed(lambda: [generate(model, audio[i : i + args.batch], tasks[i : i + args.batch],
                                      questions[i : i + args.batch], decoding) for i in range(0, len(records), args.batch)])
    single = timed(lambda: [generate(model, audio[i : i + 1], tasks[:1], questions[:1], decoding) for i in range(len(records))])
    print(f"generation (beam 4, <=30 new tokens, {len(records)} clips): batched({args.batch}) {len(records) / batched:.2f} "
          f"clips/s, one-by-one {len(records) / single:.2f} clips/s, ratio {single / batched:.2f}x")

    settings = SantaSettings()
    bank = memory_bank(encoder, corpus_captions(cfg), settings, seed=0)
    g = torch.Generator().manual_seed(0)
    santa_time = timed(lambda: santa(audio, bank, settings, g), repeat=20) / len(records)
    print(f"Santa per clip {santa_time * 1e3:.3f} ms vs whole batched inference per clip {batched / len(records) * 1e3:.1f} ms "
          f"(Santa = {santa_time / (batched / len(records)) * 100:.3f}% of it; memory {bank.memory.shape[0]} texts, "
          f"{bank.centroids.shape[0]} clusters)")
    exact = replace(settings, retrieval="exact")
    many = audio.repeat(32, 1)
    t_kmeans = timed(lambda: santa(many, bank, settings, g), repeat=10)
    t_exact = timed(lambda: santa(many, bank, exact, g), repeat=10)
    print(f"retrieval for {many.shape[0]} clips: k-means {t_kmeans * 1e3:.1f} ms, exact {t_exact * 1e3:.1f} ms, "
          f"exact / k-means {t_exact / t_kmeans:.2f}x")


if __name__ == "__main__":
    main()
