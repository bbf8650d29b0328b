"""Cost measurements (claim C8 and the speed goals), as ratios on one machine: one implementation for the
efficiency notebook and the benchmark scripts.

- text-only vs audio-supervised training: embedding the training inputs once (captions through the CLAP text
  tower vs clips through the audio tower, cache off) and the optimizer steps that follow;
- cached vs on-the-fly text embeddings during training (the authors' code embeds every batch);
- batched vs one-by-one generation, Santa's share of inference, k-means vs exact retrieval.
Timings are wall-clock on whatever else the machine is doing: read ratios from one run, on an idle machine.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..config import Config, load_config, resolve_path
from ..data.sources import audio_records
from ..encoders import encoder_from_config
from ..evaluation import corpus_captions, memory_bank, resolved_santa, task_records
from ..inference import generate
from ..provenance import cpu_model
from ..runs import load_run
from ..santa import santa


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def training_step_seconds(cfg: Config, warmup: int) -> list[float]:
    """Seconds per training sample of each optimizer step after ``warmup`` (a fresh process is slow at first),
    one timing per step; nothing kept."""
    from ..training import train

    stamps: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replace(cfg, train=replace(cfg.train, save_every=10**9, output_dir=tmp),
                      tracking=replace(cfg.tracking, enabled=False))
        train(cfg, on_step=lambda step, loss: stamps.__setitem__(step, time.perf_counter()), name="bench", progress=False)
    per_step = cfg.train.batch_size * cfg.train.grad_accum
    steps = sorted(s for s in stamps if s >= warmup)
    return [(stamps[b] - stamps[a]) / per_step for a, b in zip(steps, steps[1:])]


def training_throughput(cfg: Config, warmup: int) -> float:
    """Samples per second over the steps after ``warmup``."""
    seconds = training_step_seconds(cfg, warmup)
    return len(seconds) / sum(seconds)


def matmul_peak_tflops(dtype: torch.dtype = torch.float32, size: int = 2048, repeat: int = 10) -> float:
    """This machine's matmul rate in ``dtype`` (best of ``repeat``) at the threads torch uses: what a training
    step in that dtype could reach (bf16 where the CPU has bf16 units and llm.dtype is auto, else fp32)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    best = min(timed(lambda: a @ b) for _ in range(repeat))
    return 2 * size**3 / best / 1e12


def training_flops_per_sample(cfg: Config, batches: int = 4) -> float:
    """Floating-point operations of one training sample (forward + backward, counted by torch's FlopCounterMode
    on real training batches of the corpus, noisy unit inputs in place of the cached embeddings)."""
    import numpy as np
    from torch.utils.flop_counter import FlopCounterMode

    from ..data.sampling import SourceSampler
    from ..model import MATS, load_llm
    from ..batches import load_sources, training_batch

    llm, tokenizer = load_llm(cfg.llm, seed=cfg.seed)
    dim = encoder_from_config(cfg.encoder, progress=False).dim
    model = MATS(llm, tokenizer, dim, cfg).train()
    sampler = SourceSampler(*load_sources(cfg), np.random.default_rng(cfg.seed))
    generator = torch.Generator().manual_seed(cfg.seed)
    flops, samples = 0, 0
    for _ in range(batches):
        _, records = sampler.next_batch(cfg.train.batch_size)
        batch = training_batch(tokenizer, records, cfg.data.max_answer_tokens)
        embedding = torch.nn.functional.normalize(torch.randn(len(records), dim, generator=generator), dim=1)
        with FlopCounterMode(display=False) as counter:
            model(embedding, batch).backward()
        model.zero_grad(set_to_none=True)
        flops, samples = flops + counter.get_total_flops(), samples + len(records)
    return flops / samples


def embedding_seconds(cfg: Config, modality: str, n: int, repeats: int = 1) -> list[float]:
    """Seconds per training input to embed ``n`` of them with the cache off, once per repeat: corpus captions
    (text) or audio-train clips (audio)."""
    encoder = encoder_from_config(cfg.encoder, cache=False, progress=False)
    if modality == "text":
        items = corpus_captions(cfg)[:n]
        encoder.embed_text(items[:1])  # warm-up: the towers load once per process
        return [timed(lambda: encoder.embed_text(items)) / len(items) for _ in range(repeats)]
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    clips = sorted({root / r["audio_id"] for records in audio_records(cfg).values() for r in records})
    clips = clips[:n]
    encoder.embed_audio(clips[:1])
    return [timed(lambda: encoder.embed_audio(clips)) / len(clips) for _ in range(repeats)]


def training_costs(preset: str, steps: int, warmup: int, n_embed: int, overrides: dict | None = None,
                   embed_repeats: int = 5) -> dict:
    """Text-only vs MATS-Audio (same model, same steps) and cached vs on-the-fly embeddings, with ratios, and the
    raw timing samples C8 is decided from (``samples``: one per optimizer step after the warm-up, one per
    embedding repeat; seconds per training sample, each training input embedded once)."""
    base = {"train.max_steps": steps, **(overrides or {})}
    text = load_config(preset, base)
    audio = load_config(preset, {**base, "data.modality": "audio"})
    out = {"steps": steps, "warmup": warmup, "n_embed": n_embed, "embed_repeats": embed_repeats}
    step_seconds = {"text": training_step_seconds(text, warmup), "audio": training_step_seconds(audio, warmup)}
    embed_seconds = {mode: embedding_seconds(text, mode, n_embed, embed_repeats) for mode in ("text", "audio")}
    out["samples"] = [{"mode": mode, "component": component, "repeat": i, "seconds_per_sample": float(v)}
                      for mode in ("text", "audio")
                      for component, values in (("embed", embed_seconds[mode]), ("step", step_seconds[mode]))
                      for i, v in enumerate(values)]
    out["text_samples_per_s"] = len(step_seconds["text"]) / sum(step_seconds["text"])
    out["audio_samples_per_s"] = len(step_seconds["audio"]) / sum(step_seconds["audio"])
    out["on_the_fly_samples_per_s"] = training_throughput(load_config(preset, {**base, "data.embeddings": "on_the_fly"}), warmup)
    out["text_embed_s_per_input"] = sum(embed_seconds["text"]) / embed_repeats
    out["audio_embed_s_per_input"] = sum(embed_seconds["audio"]) / embed_repeats
    from ..model import resolve_dtype

    dtype = resolve_dtype(text.llm.dtype)
    out["llm_dtype"] = str(dtype).replace("torch.", "")
    out["machine"] = f"{cpu_model()}, {os.cpu_count()} cores, LLM in {out['llm_dtype']}"
    out["matmul_peak_tflops"] = matmul_peak_tflops(dtype)
    out["train_flops_per_sample"] = training_flops_per_sample(text)
    out["train_tflops"] = out["text_samples_per_s"] * out["train_flops_per_sample"] / 1e12
    out["ratios"] = {
        "training step / matmul peak in the training dtype": out["train_tflops"] / out["matmul_peak_tflops"],
        "audio / text embedding cost per input": out["audio_embed_s_per_input"] / out["text_embed_s_per_input"],
        "text / audio training throughput": out["text_samples_per_s"] / out["audio_samples_per_s"],
        "cached / on-the-fly training throughput": out["text_samples_per_s"] / out["on_the_fly_samples_per_s"]}
    return out


def inference_costs(run: str | Path, n: int = 32, batch: int = 16) -> dict:
    """Batched vs one-by-one generation (beam 4, <= 30 new tokens) on eval captions, Santa's share of the
    cost, k-means vs exact retrieval."""
    loaded = load_run(run)
    model, cfg = loaded.model, loaded.config
    encoder = encoder_from_config(cfg.encoder, progress=False)
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    records = task_records(root, "caption_scenes", replace(cfg, eval=replace(cfg.eval, max_items=None)))[:n]
    audio = torch.from_numpy(encoder.embed_audio([root / r["audio_id"] for r in records]))
    decoding = replace(cfg.decoding, num_beams=4, max_new_tokens=30)
    tasks, questions = ["caption_scenes"] * len(records), [None] * len(records)
    generate(model, audio[:2], tasks[:2], questions[:2], decoding)  # warm-up
    batched = timed(lambda: [generate(model, audio[i : i + batch], tasks[i : i + batch], questions[i : i + batch],
                                      decoding) for i in range(0, len(records), batch)])
    single = timed(lambda: [generate(model, audio[i : i + 1], tasks[:1], questions[:1], decoding) for i in range(len(records))])
    settings = resolved_santa(cfg, 0.015)
    bank = memory_bank(encoder, corpus_captions(cfg), settings, cfg.eval.subset_seed)
    g = torch.Generator().manual_seed(0)
    santa_s = timed(lambda: santa(audio, bank, settings, g), repeat=20) / len(records)
    many = audio.repeat(32, 1)
    kmeans_s = timed(lambda: santa(many, bank, settings, g), repeat=10)
    exact_s = timed(lambda: santa(many, bank, replace(settings, retrieval="exact"), g), repeat=10)
    per_clip = batched / len(records)
    return {"clips": len(records), "batch": batch, "batched_clips_per_s": len(records) / batched,
            "single_clips_per_s": len(records) / single, "santa_ms_per_clip": santa_s * 1e3,
            "inference_ms_per_clip": per_clip * 1e3, "memory_texts": int(bank.memory.shape[0]),
            "clusters": int(bank.centroids.shape[0]), "retrieval_clips": int(many.shape[0]),
            "kmeans_ms": kmeans_s * 1e3, "exact_ms": exact_s * 1e3,
            "ratios": {"batched / one-by-one generation": single / batched,
                       "Santa share of inference": santa_s / per_clip,
                       "exact / k-means retrieval time": exact_s / kmeans_s}}
