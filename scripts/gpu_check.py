"""Device check: the training loop and generation on a GPU give what they give on the CPU.

    python scripts/gpu_check.py [--steps 6] [--out gpu_check.json]

Runs on a GPU host with only this repository, the AudioTIA-mini corpus (`build/data/audiotia_mini`) and the
SmolLM2 tokenizer files: the LLM is the smoke preset's random 2-layer Llama and the CLAP role is played by
a hashed text encoder (a fixed unit vector per text), so no model weights or audio are needed. Checks:

1. smoke training, fp32: the per-step losses on the GPU match the CPU's (tolerance printed);
2. smoke training, bf16 weights on the GPU: finite losses near the fp32 curve;
3. stop at step 3 and resume on the GPU: the final weights against the uninterrupted GPU run;
4. generation on the GPU (beam 4): a batch gives the same answers as its rows one by one.
Without a GPU it exits with an error (pass --allow-cpu to dry-run the CPU half).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

import mats_lib.training as training
from mats_lib.config import load_config
from mats_lib.encoders.base import AudioTextEncoder
import mats_lib.inference as inference
from mats_lib.inference import Decoding, generate
from mats_lib.runs import load_run


class HashedText(AudioTextEncoder):
    """A stand-in CLAP for device checks: text -> a unit vector seeded by the text's SHA-256."""

    name = "hashed"
    dim = 384
    sample_rate = 16000

    def settings(self) -> dict:
        return {"kind": "sha256-seeded gaussian"}

    def _embed_text_batch(self, texts):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:15], 16)).standard_normal(self.dim)
                for t in texts]
        return np.stack(rows).astype(np.float32)

    def _embed_audio_batch(self, waves):
        raise NotImplementedError("the device check trains on text only")


def smoke(out: Path, device: str, dtype: str, steps: int):
    return load_config("smoke", {"train.output_dir": str(out), "train.device": device, "llm.dtype": dtype,
                                 "train.max_steps": steps, "train.save_every": 3, "data.noise_variance": 0.0036,
                                 "tracking.enabled": False})


def run(cfg, name: str, **kwargs):
    start = time.perf_counter()
    result = training.train(cfg, name=name, progress=False, **kwargs)
    return result, time.perf_counter() - start


def max_weight_diff(a: Path, b: Path) -> float:
    x, y = load_file(str(a / "final" / "trainable.safetensors")), load_file(str(b / "final" / "trainable.safetensors"))
    return max(float((x[k].float() - y[k].float()).abs().max()) for k in x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--runs", type=Path, default=Path("build/runs/gpu-check"))
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--allow-cpu", action="store_true")
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    if not gpu and not args.allow_cpu:
        raise SystemExit("no GPU: torch.cuda.is_available() is False (use --allow-cpu for a dry run)")
    device = "cuda" if gpu else "cpu"
    stand_in = lambda *a, **k: HashedText(cache=False, progress=False)  # noqa: E731 (no CLAP weights needed)
    training.encoder_from_config = inference.encoder_from_config = stand_in
    report = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "torch": torch.__version__}

    cpu, cpu_s = run(smoke(args.runs, "cpu", "float32", args.steps), "cpu-fp32")
    dev, dev_s = run(smoke(args.runs, device, "float32", args.steps), "dev-fp32")
    report["fp32"] = {"cpu_losses": cpu.losses, "device_losses": dev.losses,
                      "max_abs_loss_diff": max(abs(a - b) for a, b in zip(cpu.losses, dev.losses)),
                      "max_abs_weight_diff": max_weight_diff(cpu.run_dir, dev.run_dir), "cpu_s": cpu_s, "device_s": dev_s}
    bf16, _ = run(smoke(args.runs, device, "bfloat16", args.steps), "dev-bf16")
    report["bf16"] = {"losses": bf16.losses, "finite": bool(np.isfinite(bf16.losses).all()),
                      "max_abs_loss_diff_vs_fp32": max(abs(a - b) for a, b in zip(dev.losses, bf16.losses))}
    first, _ = run(smoke(args.runs, device, "float32", args.steps), "dev-resumed", stop_at_step=3)
    resumed, _ = run(smoke(args.runs, device, "float32", args.steps), "dev-resumed", resume_from=first.run_dir)
    report["resume"] = {"losses_after_resume": resumed.losses, "straight_losses": dev.losses[3:],
                        "max_abs_weight_diff_vs_straight": max_weight_diff(dev.run_dir, resumed.run_dir)}

    model = load_run(dev.run_dir, device=device).model
    embeddings = torch.nn.functional.normalize(torch.randn(6, 384, generator=torch.Generator().manual_seed(0)), dim=1)
    tasks = ["tia_audioset_caption", "tia_class_description", "tia_qa"] * 2
    decoding = Decoding(num_beams=4, max_new_tokens=12)
    batch = generate(model, embeddings, tasks, [None] * 6, decoding)
    single = [generate(model, embeddings[i : i + 1], tasks[i : i + 1], [None], decoding)[0] for i in range(6)]
    report["generation"] = {"model_device": str(model.device), "batch": batch, "single": single,
                            "batch_equals_single": batch == single}

    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: ({kk: vv for kk, vv in v.items() if "losses" not in kk and kk not in ("batch", "single")}
                          if isinstance(v, dict) else v) for k, v in report.items()}, indent=1))


if __name__ == "__main__":
    main()
