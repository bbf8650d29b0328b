"""Text-only training of MATS (and the audio-supervised control MATS-Audio), tracked in MLflow.

One entry point, ``train(cfg)``, for one process or many under ``torchrun`` (DDP: NCCL on GPUs, gloo on
CPUs). Every rank draws the same global batch from the same seeded sampler and takes its slice, so N
processes x batch b follow the same trajectory as one process with batch N*b.

Per micro-step (text modality): CLAP text embedding of each record's caption (precomputed once, from
the cache) -> L2-normalise -> + N(0, var) -> L2-normalise -> mapper -> LLM; loss on answer tokens.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm  # text bars: tqdm.auto wants ipywidgets in a kernel and warns without it

from .batches import input_key, load_sources, lr_factor, make_optimizer, training_batch
from .config import INFERENCE_SECTIONS, Config, resolve_path
from .data.sampling import SourceSampler
from .data.sources import data_inputs
from .encoders import encoder_from_config
from .model import MATS, load_llm, resolve_device
from .noise import noisy_unit, resolve_noise_variance
from .checkpoints import load_torch_state
from .runs import (find_checkpoint, latest_checkpoint, run_dir as default_run_dir, run_name, run_state,
                   save_checkpoint, set_aside, training_key)
from .seed import seed_everything
from .tracking import MlflowTracker, NullTracker, environment_tags, experiment_for


@dataclass
class TrainResult:
    run_dir: Path
    run_id: str | None
    step: int
    losses: list[float] = field(default_factory=list)  # mean loss of each optimizer step
    noise_variance: float = 0.0
    seconds: float = 0.0
    peak_rss_gb: float = 0.0
    key: str = ""
    reused: bool = False  # True: a finished run with the same key was found and nothing was trained


# ------------------------------------------------------------------------------------------ data


def embed_sources(cfg: Config, encoder, sources: dict[str, list[dict]], rank: int = 0,
                  world: int = 1) -> dict[str, torch.Tensor]:
    """{caption or audio_id: unit embedding}: everything the run will feed, computed (or read) once. Under DDP each
    rank first embeds its shard (every world-th text) into the shared cache, so the ~5M texts of AudioTIA-5M are
    encoded once across the GPUs; after a barrier every rank reads the whole table from the cache."""
    keys = sorted({input_key(r) for records in sources.values() for r in records})
    if world > 1 and cfg.data.modality == "text":
        encoder.embed_text(keys[rank::world])
        dist.barrier()
    if cfg.data.modality == "text":
        vectors = encoder.embed_text(keys)
    else:
        root = resolve_path(cfg.data.audio_root, "data.audio_root")
        vectors = encoder.embed_audio([root / k for k in keys])
    table = torch.from_numpy(np.ascontiguousarray(vectors))
    return {k: table[i] for i, k in enumerate(keys)}


# ------------------------------------------------------------------------------------------ optimisation


# ------------------------------------------------------------------------------------------ the loop
def _distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":  # NCCL binds each rank to the GPU it will use
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(cfg: Config, *, resume_from: str | Path | None = None, stop_at_step: int | None = None,
          on_step: Callable[[int, float], None] | None = None, name: str | None = None,
          progress: bool = True) -> TrainResult:
    """Train; ``resume_from`` a checkpoint or run folder; ``stop_at_step`` saves and stops early (a
    planned interruption); ``on_step(step, loss)`` is called after every optimizer step.

    The run folder is checked first: a finished run with the same key is reused (nothing trained), an
    unfinished one with the same key is resumed from its latest checkpoint, and one with another key
    (or none) is moved aside under ``.stale/`` and trained again."""
    device = resolve_device(cfg.train.device)
    rank, world = _distributed(device)
    name = name or run_name(cfg)
    folder = default_run_dir(cfg, name)
    encoder = encoder_from_config(cfg.encoder, progress=progress and rank == 0)
    key = training_key(cfg, encoder.fingerprint())
    if resume_from is None and folder.exists():
        action, checkpoint = run_state(folder, key["key"])
        if action == "reuse":
            if rank == 0:
                print(f"run {name}: finished with the same key {key['key']}; reused, nothing trained")
            state = load_torch_state(checkpoint / "state.pt", "training state")
            return TrainResult(folder, None, int(state["step"]), noise_variance=float(state["noise_variance"]),
                               key=key["key"], reused=True)
        if action == "resume":
            resume_from = checkpoint
        elif rank == 0:
            held = latest_checkpoint(folder) is not None
            set_aside(folder, "its key differs from this configuration's" if held else "it holds no keyed checkpoint")
        if world > 1:
            dist.barrier()
    tracker = MlflowTracker(experiment_for(cfg.preset, cfg.tracking.experiment), name) if (rank == 0 and cfg.tracking.enabled) else NullTracker()
    with tracker:
        tracker.set_tags({**environment_tags(), "preset": cfg.preset, "encoder": cfg.encoder.name, "seed": cfg.seed,
                          "modality": cfg.data.modality, "world_size": world, "run_key": key["key"]})
        tracker.log_params({k: v for k, v in cfg.flat().items() if k.split(".")[0] not in INFERENCE_SECTIONS})
        tracker.log_inputs(data_inputs(cfg, evaluation=False))
        result = _train(cfg, rank, world, device, folder, tracker, resume_from, stop_at_step, on_step, progress,
                        encoder, key)
        result.run_id = tracker.run_id
        if rank == 0 and result.step >= cfg.train.max_steps:
            tracker.log_artifact(folder / "final", folder="adapter")
    return result


def _train(cfg, rank, world, device, run_dir, tracker, resume_from, stop_at_step, on_step, progress, encoder,
           key) -> TrainResult:
    start_time = time.perf_counter()
    gens = seed_everything(cfg.seed)
    sources, ratios = load_sources(cfg)
    noise_variance, noise_info = resolve_noise_variance(cfg, encoder) if cfg.data.modality == "text" else (0.0, {})
    if noise_info or cfg.data.modality == "text":
        tracker.log_params({"noise.variance_used": noise_variance, **noise_info})
    on_the_fly = cfg.data.embeddings == "on_the_fly"
    if on_the_fly:
        live_encoder = encoder_from_config(cfg.encoder, cache=False, progress=False)
    else:
        table = embed_sources(cfg, encoder, sources, rank, world)

    llm, tokenizer = load_llm(cfg.llm, seed=cfg.seed)
    if cfg.train.gradient_checkpointing:  # activations of the frozen LLM recomputed in the backward pass
        llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    torch.manual_seed(cfg.seed)  # the mapper's init depends on the seed alone, not on what ran before
    model = MATS(llm, tokenizer, encoder.dim, cfg)
    model.to(device)  # the optimizer is made after the move, so its state lives beside the weights
    model.train()
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    sampler = SourceSampler(sources, ratios, gens.child("sampler").numpy)
    noise_gen = gens.child("noise").torch
    step = 0
    if resume_from is not None:
        ckpt = find_checkpoint(resume_from)
        model.load_trainable_file(ckpt / "trainable.safetensors")
        state = load_torch_state(ckpt / "state.pt", "training state")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        noise_gen.set_state(state["noise_rng"])
        gens.numpy.bit_generator.state = state["numpy_rng"]
        random.setstate(state["python_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        step = int(state["step"])
    if world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    trainable = [p for p in model.parameters() if p.requires_grad]
    if rank == 0:
        n_train = sum(p.numel() for p in trainable)
        tracker.log_params({"trainable_parameters": n_train, "resumed_from_step": step})

    result = TrainResult(run_dir, None, step, noise_variance=noise_variance, key=key["key"])
    micro = cfg.train.batch_size
    window_samples, window_start = 0, time.perf_counter()
    bar = tqdm(total=cfg.train.max_steps, initial=step, desc=f"train {cfg.preset}", disable=not (progress and rank == 0))
    while step < cfg.train.max_steps:
        step_loss = 0.0
        for k in range(cfg.train.grad_accum):
            _, records = sampler.next_batch(micro * world)  # the same global batch on every rank
            if cfg.data.modality == "text":
                if on_the_fly:
                    clean = torch.from_numpy(live_encoder.embed_text([r["caption"] for r in records]))
                else:
                    clean = torch.stack([table[input_key(r)] for r in records])
                embedding = noisy_unit(clean, noise_variance, noise_gen)  # noise drawn for the global batch
            else:
                embedding = torch.stack([table[input_key(r)] for r in records])
            mine = slice(rank * micro, (rank + 1) * micro)
            records, embedding = records[mine], embedding[mine]
            batch = training_batch(tokenizer, records, cfg.data.max_answer_tokens)
            sync_now = k == cfg.train.grad_accum - 1
            context = ddp_model.no_sync() if (world > 1 and not sync_now) else nullcontext()
            with context:
                loss = ddp_model(embedding, batch) / cfg.train.grad_accum
                loss.backward()
            step_loss += loss.item()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.train.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window_samples += micro * world * cfg.train.grad_accum
        if world > 1:
            mean = torch.tensor([step_loss], device=device)
            dist.all_reduce(mean)
            step_loss = mean.item() / world
        result.losses.append(step_loss)
        result.step = step
        if rank == 0:  # the full per-step curve (MLflow gets every log_every-th); after a resume, the last line of a step wins
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(run_dir / "losses.jsonl", "a") as f:
                f.write(json.dumps({"step": step, "loss": step_loss}) + "\n")
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.3f}")
        if rank == 0 and (step % cfg.train.log_every == 0 or step == cfg.train.max_steps):
            elapsed = time.perf_counter() - window_start
            tracker.log_metrics({"loss": step_loss, "lr": scheduler.get_last_lr()[0],
                                 "samples_per_s": window_samples / max(elapsed, 1e-9)}, step)
            window_samples, window_start = 0, time.perf_counter()
        if on_step is not None:
            on_step(step, step_loss)
        done = step >= cfg.train.max_steps
        stopping = stop_at_step is not None and step >= stop_at_step
        if rank == 0 and (step % cfg.train.save_every == 0 or done or stopping):
            save_checkpoint(run_dir / ("final" if done else f"step_{step:07d}"), model, optimizer, scheduler, sampler,
                            noise_gen, gens.numpy, step, cfg, noise_variance, key)
        if stopping:
            break
    bar.close()
    if world > 1:
        dist.barrier()
    result.seconds = time.perf_counter() - start_time
    result.peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    if rank == 0:
        tracker.log_metrics({"peak_rss_gb": result.peak_rss_gb, "wall_seconds": result.seconds}, step)
    return result
