"""Time per optimizer step of the paper's training setting on this machine, for the pre-flight check's estimate to
stand beside: MATS with a frozen LLM of the paper's architecture (Vicuna-7B v1.5's shapes, random weights: a step's
time depends on shapes, not values), LoRA on its attention projections, the transformer mapper with its 40-token
prefix, the GPU's half precision, the preset's batch and accumulation, on prompts and answers of a training corpus.

    python -m mats_lib.study.paper_step --corpus build/data/audiotia_mini/sources.json --steps 5
    python -m mats_lib.study.paper_step --corpus build/data/audiotia_mini/sources.json --steps 0   # estimates only

Stand-ins, stated in the output: the tokenizer is SmolLM2's (the embedding table is sized to it, 49152 rows instead
of Vicuna's 32000: about 1% more work per token), and the corpus gives the answer lengths."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..check import Report, check_corpus, corpus_tokens_per_sample, estimate, llm_parameters, padded_length
from ..config import load_config
from ..data.sampling import SourceSampler
from ..model import MATS, resolve_device, resolve_dtype
from ..seed import seed_everything
from ..batches import load_sources, make_optimizer, training_batch

# Shapes from each model's published config.json.
ARCHITECTURES = {
    "vicuna-7b": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5},
    # SmolLM2-135M-Instruct, the mini preset's LLM (its weights are not needed for a step's time)
    "smollm2-135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                     "num_key_value_heads": 3, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
                     "tie_word_embeddings": True},
    "tiny": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 512},
}
CLAP_WIDTH = 1024  # MS-CLAP 2023's projection


def stand_in_tokenizer():
    """SmolLM2's tokenizer, standing in for the paper LLM's (the embedding table is sized to it)."""
    from transformers import AutoTokenizer

    from ..assets import smollm2_path

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path())
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    return tokenizer


def architecture_config(architecture: str, tokenizer) -> dict:
    return {**ARCHITECTURES[architecture], "vocab_size": len(tokenizer)}


def build_model(architecture: str, cfg, tokenizer, device: torch.device, clap_width: int = CLAP_WIDTH) -> MATS:
    """Frozen random LLM of the architecture on ``device`` (made there: a 7B init on the CPU takes minutes) with
    LoRA as load_llm puts it, and the preset's mapper."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**architecture_config(architecture, tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    with torch.device(device):
        llm = LlamaForCausalLM(config).to(resolve_dtype(cfg.llm.dtype))
    llm.requires_grad_(False)
    if cfg.train.gradient_checkpointing:
        llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    llm = get_peft_model(llm, LoraConfig(r=cfg.llm.lora_r, lora_alpha=cfg.llm.lora_alpha,
                                         lora_dropout=cfg.llm.lora_dropout, target_modules=list(cfg.llm.lora_targets),
                                         bias="none", task_type="CAUSAL_LM"))
    return MATS(llm, tokenizer, clap_width, cfg).to(device).train()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_estimates(arch: dict, cfg, tokenizer) -> dict:
    """The pre-flight check's estimate for this setting: with every answer at its cap, and with the corpus's padded
    tokens per sample (its first records, the given tokenizer), as `python -m mats_lib.check` makes it."""
    tokens = corpus_tokens_per_sample(cfg, check_corpus(cfg, Report()), Report(), tokenizer=tokenizer)
    return {"check_estimate": estimate(cfg, arch, CLAP_WIDTH, Report()),
            "check_estimate_at_corpus_tokens": estimate(cfg, arch, CLAP_WIDTH, Report(), tokens)}


def matmul_tflops(device: torch.device, dtype: torch.dtype, repeat: int = 10) -> float:
    """The device's dense matmul rate in ``dtype`` (best of ``repeat``): the peak a step's utilisation is set against.
    4096-square on a GPU, 1024 on a CPU (a few seconds there; its rate is reached well below that size)."""
    size = 4096 if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e12


def measure(architecture: str, corpus: str, *, steps: int = 5, warmup: int = 2, overrides: dict | None = None,
            preset: str = "paper", clap=None) -> dict:
    """The timing, beside the check's estimates; ``steps=0`` gives the estimates alone (no model is built).

    ``clap``: an encoder (``create_encoder(...)``) that embeds each batch's captions inside the step, as training
    with ``data.embeddings=on_the_fly`` does, instead of random unit vectors; its share of the step is timed apart.
    ``preset``: whose mapper, batch and accumulation the step takes (paper; mini for the mini-shaped step)."""
    cfg = load_config(preset, {"encoder.checkpoint": None, "llm.path": "tiny-random", "data.corpus": corpus,
                               "tracking.enabled": False, **(overrides or {})})
    tokenizer = stand_in_tokenizer()
    arch = architecture_config(architecture, tokenizer)
    estimates = check_estimates(arch, cfg, tokenizer)
    if steps == 0:
        return {"architecture": architecture, **estimates}
    device = resolve_device(cfg.train.device)
    gens = seed_everything(cfg.seed)
    sources, ratios = load_sources(cfg)
    sampler = SourceSampler(sources, ratios, gens.child("sampler").numpy)
    width = clap.dim if clap is not None else CLAP_WIDTH
    model = build_model(architecture, cfg, tokenizer, device, width)
    optimizer = make_optimizer(model, cfg)
    micro, accum = cfg.train.batch_size, cfg.train.grad_accum
    times, tokens, clap_times = [], [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for step in range(warmup + steps):
        _sync(device)
        start, step_tokens, clap_seconds = time.perf_counter(), 0, 0.0
        for _ in range(accum):
            _, records = sampler.next_batch(micro)
            batch = training_batch(tokenizer, records, cfg.data.max_answer_tokens)
            if clap is None:
                embedding = torch.nn.functional.normalize(torch.randn(micro, width, generator=gens.torch), dim=-1)
            else:
                _sync(device)
                clap_start = time.perf_counter()
                embedding = torch.nn.functional.normalize(
                    torch.from_numpy(clap._embed_text_batch([r["caption"] for r in records])), dim=-1)
                _sync(device)
                clap_seconds += time.perf_counter() - clap_start
            (model(embedding.to(device), batch) / accum).backward()
            step_tokens += micro * padded_length(batch, cfg)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
            tokens.append(step_tokens)
            clap_times.append(clap_seconds)
    params = llm_parameters(arch)
    seconds = float(np.median(times))
    achieved = 6 * params * np.mean(tokens) / seconds / 1e12
    peak = matmul_tflops(device, resolve_dtype(cfg.llm.dtype))
    clap_part = {} if clap is None else {
        "clap": clap.name, "clap_dim": clap.dim, "clap_settings": {k: v for k, v in clap.settings().items()
                                                                   if k in ("checkpoint", "format")},
        "clap_seconds_per_step_median": round(float(np.median(clap_times)), 4),
        "clap_share_of_step": round(float(np.median(clap_times)) / seconds, 4)}
    out = {"architecture": architecture, "llm_parameters": params, "device": str(device),
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "dtype": str(resolve_dtype(cfg.llm.dtype)), "batch_size": micro, "grad_accum": accum,
           "gradient_checkpointing": cfg.train.gradient_checkpointing, "timed_steps": steps,
           "seconds_per_step_median": round(seconds, 4), "seconds_per_step": [round(t, 4) for t in times],
           "padded_tokens_per_step_mean": float(np.mean(tokens)),
           "achieved_tflops_at_6_flops_per_param_token": round(achieved, 3),
           "matmul_peak_tflops_in_dtype": round(peak, 3),
           "model_flops_utilisation": round(achieved / peak, 4),
           "preset": preset, **clap_part,
           "hours_for_max_steps_on_one_device": round(seconds * cfg.train.max_steps / 3600, 1),
           "max_steps": cfg.train.max_steps,
           "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated(device) / 1e9, 1) if device.type == "cuda"
           else None,
           **estimates,
           "stand_ins": "random weights of the architecture; SmolLM2's tokenizer (embedding table sized to it); "
                        "prompts and answers from --corpus"}
    return out


if __name__ == "__main__":  # the command lives in mats_lib.cli.paper_step
    from ..cli.paper_step import main

    main()
