"""Device check: the training loop and generation on a GPU give what they give on the CPU.

    python scripts/gpu_check.py [--steps 6] [--out gpu_check.json]

Runs on a GPU host with only this repository, the AudioTIA-mini corpus (`build/data/audiotia_mini`) and the
SmolLM2 tokenizer files: the LLM is the smoke preset's random 2-layer Llama and the CLAP role is played by
a hashed text encoder (a fixed unit vector per text), so no model weights or audio are needed. Checks:

1. smoke training, fp32: the per-step losses on the GPU match the CPU's (tolerance printed);
2. smoke training, bf16 weights on the GPU: finite losses near the fp32 curve;
3. stop at step 3 and resume on the GPU: the final weights against the uninterrupted GPU run;
4. generation on the GPU (beam 4): a batch gives the same answers as its rows one by one.
With ``--paper-claps`` (needs ``tests/`` and the assets' SmolLM2 tokenizer; no CLAP weights), also:
5. one paper-shaped training step per paper CLAP, its architecture at the released sizes with random weights
   (MS-CLAP 2023 and LAION-CLAP 630k, written by ``tests/random_claps.py``) embedding each batch's captions inside
   the step, beside a frozen LLM of Vicuna-7B's shapes: time, peak memory, the CLAP's share and the model FLOPs
   utilisation against the device's measured matmul rate;
6. a mini-shaped step (SmolLM2-135M's shapes, random weights; the mini preset's mapper and batch) on the device and
   on this host's CPU, and the device's samples/s against the 2-core CPU's committed figure
   (``reports/mini/efficiency.json``): the ratio the mini study's training time scales by.
Without a GPU it exits with an error (pass --allow-cpu to dry-run the CPU half; with --paper-claps, add
``--paper-architecture tiny``: a 7B model does not fit a small host).
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


def paper_claps(device: str, folder: Path, architecture: str, steps: int) -> dict:
    """Sections 5 and 6: the paper step with each CLAP in the loop, and the mini-shaped step on device and CPU."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the random-weight writers
    from mats_lib.encoders import create_encoder
    from mats_lib.paths import reports_dir
    from mats_lib.study.paper_step import measure
    from tests.random_claps import write_laion_folder, write_msclap_checkpoint
    from tests.tiny_tokenizers import write_tiny_tokenizer

    corpus, out = "build/data/audiotia_mini/sources.json", {}
    for backend, write, tokenizer in (("msclap", lambda: write_msclap_checkpoint(folder / "msclap-2023.pth", "2023"),
                                       "gpt2"),
                                      ("laion", lambda: write_laion_folder(folder / "laion-630k", "630k"), "roberta")):
        start = time.perf_counter()
        clap = create_encoder(backend, checkpoint=write(), tokenizer=write_tiny_tokenizer(folder / tokenizer, tokenizer),
                              cache=False, progress=False, device=device)
        built = time.perf_counter() - start
        out[backend] = {"random_checkpoint_written_and_loaded_s": round(built, 1),
                        **measure(architecture, corpus, steps=steps, warmup=1, clap=clap,
                                  overrides={"train.device": device})}
        del clap
        if device == "cuda":
            torch.cuda.empty_cache()
    mini = {where: measure("smollm2-135m", corpus, steps=steps, warmup=1, preset="mini",
                           overrides={"train.device": where}) for where in dict.fromkeys((device, "cpu"))}
    samples = {where: m["batch_size"] * m["grad_accum"] / m["seconds_per_step_median"] for where, m in mini.items()}
    committed = reports_dir("mini") / "efficiency.json"
    two_core = json.loads(committed.read_text())["training"] if committed.is_file() else {}
    out["mini_step"] = {"steps": mini, "samples_per_s": samples,
                        "two_core_cpu_samples_per_s": two_core.get("text_samples_per_s"),
                        "two_core_cpu_dtype": two_core.get("llm_dtype"),
                        "device_over_two_core_cpu": (round(samples[device] / two_core["text_samples_per_s"], 2)
                                                     if two_core.get("text_samples_per_s") else None)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--runs", type=Path, default=Path("build/runs/gpu-check"))
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--allow-cpu", action="store_true")
    parser.add_argument("--paper-claps", action="store_true", help="sections 5 and 6 (see above)")
    parser.add_argument("--paper-architecture", default="vicuna-7b", help="the frozen LLM's shapes for section 5")
    parser.add_argument("--paper-steps", type=int, default=2, help="timed steps per measurement in sections 5-6")
    parser.add_argument("--only-paper-claps", action="store_true", help="skip sections 1-4")
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    if not gpu and not args.allow_cpu:
        raise SystemExit("no GPU: torch.cuda.is_available() is False (use --allow-cpu for a dry run)")
    device = "cuda" if gpu else "cpu"
    report = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "torch": torch.__version__}
    if args.paper_claps:  # first: it builds real CLAP backends, which the stand-in below would replace
        report["paper_claps"] = paper_claps(device, args.runs / "claps", args.paper_architecture, args.paper_steps)
        if args.only_paper_claps:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
            print(json.dumps(report, indent=1)[:6000])
            return
    stand_in = lambda *a, **k: HashedText(cache=False, progress=False)  # noqa: E731 (no CLAP weights needed)
    training.encoder_from_config = inference.encoder_from_config = stand_in

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
