"""The CUDA code paths, run where torch sees a GPU and skipped elsewhere (CI has none): the paper preset at toy size
(a random 2-layer Llama in the GPU's half precision, the transformer mapper, prefix 40, gradient checkpointing, the
MS-CLAP 2023 backend on random weights of its real architecture (tiny towers, 1024-d projections), on the GPU) trained, interrupted and resumed, then evaluated on an ESC-50
layout by the one command with beam search. Run on a GPU host with `make reference` done (the random MS-CLAP file is
written by the upstream model code) and `python -m pytest tests/test_gpu.py`."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mats_lib.config import load_config
from mats_lib.evaluate import main as evaluate_main
from mats_lib.runs import read_key
from mats_lib.training import train
from tests.benchmark_layouts import LAYOUTS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

RATE = 44100  # MS-CLAP's sample rate: the clips need no resampling
HALF = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float16


def write_corpus(folder: Path) -> Path:
    """Two AudioTIA sources in the release's record format, 12 records each."""
    folder.mkdir(parents=True)
    animals = ["dog barking", "cat meowing", "rooster crowing", "cow mooing", "frog croaking", "bird chirping"]
    rows = {"tia_class_description": [{"caption": f"A short recording of {a}.", "output": a,
                                       "instruction": "What sound event is this? Answer with its label.",
                                       "task": "tia_class_description"} for a in animals * 2],
            "tia_audioset_caption": [{"caption": f"A {a} far away.", "output": f"A {a} far away.",
                                      "instruction": "Describe the audio in one sentence.",
                                      "task": "tia_audioset_caption"} for a in animals * 2]}
    for name, records in rows.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "sources.json").write_text(json.dumps({n: {"file": f"{n}.jsonl", "ratio": 1} for n in rows}))
    return folder / "sources.json"


@pytest.fixture(scope="module")
def gpu_setting(upstream_reference, tmp_path_factory):
    """Overrides of the paper preset for a toy run on the GPU: MS-CLAP on random weights of its architecture."""
    from tests.tiny_tokenizers import write_tiny_tokenizer
    from tests.upstream_msclap import write_random_msclap_checkpoint

    folder = tmp_path_factory.mktemp("gpu")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATS_CACHE_DIR", str(folder / "cache"))
        checkpoint = write_random_msclap_checkpoint(folder / "CLAP_weights_2023.pth", root=upstream_reference)
        yield folder, {
            "encoder.checkpoint": str(checkpoint), "encoder.tokenizer": str(write_tiny_tokenizer(folder / "gpt2")),
            "llm.path": "tiny-random", "llm.dtype": "auto",
            "data.corpus": str(write_corpus(folder / "corpus")), "train.max_steps": 4, "train.batch_size": 2,
            "train.grad_accum": 2, "train.warmup_steps": 1, "train.gradient_checkpointing": True,
            "train.output_dir": str(folder / "runs"), "tracking.enabled": False}


def trained(gpu_setting, name, **kwargs):
    folder, overrides = gpu_setting
    cfg = load_config("paper", {**overrides, "train.output_dir": str(folder / name)})
    assert cfg.train.device == "auto" and (cfg.mapper.kind, cfg.mapper.prefix_length) == ("transformer", 40)
    return train(cfg, progress=False, **kwargs)


def test_training_runs_on_the_gpu_in_half_precision_and_resumes_to_the_same_weights(gpu_setting):
    from mats_lib.runs import load_run

    whole = trained(gpu_setting, "whole")
    assert whole.step == 4 and all(np.isfinite(whole.losses))
    model = load_run(whole.run_dir).model
    frozen = next(p for n, p in model.named_parameters() if "embed_tokens" in n)
    assert frozen.device.type == "cuda" and frozen.dtype == HALF
    assert read_key(whole.run_dir / "final")["trained_on"]["device"] == "cuda"

    trained(gpu_setting, "split", stop_at_step=2)
    resumed = trained(gpu_setting, "split")  # the unfinished run of the same key is resumed from step 2
    assert resumed.step == 4 and not resumed.reused
    a, b = (load_file(str(r.run_dir / "final" / "trainable.safetensors")) for r in (whole, resumed))
    assert a.keys() == b.keys()
    for k in a:  # the CUDA generator state travels in the checkpoint: LoRA dropout draws the same masks
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_a_run_is_evaluated_on_the_gpu_by_the_one_command(gpu_setting, tmp_path, monkeypatch):
    import soundfile as sf

    from mats_lib import evaluation
    from mats_lib.assets import AssetMissingError, minilm_path
    from mats_lib.encoders import create_encoder

    try:
        minilm_path()
    except AssetMissingError:  # a bare GPU image without `make setup`: answers are matched to labels by the MS-CLAP
        settings = gpu_setting[1]
        monkeypatch.setattr(evaluation, "scorer_encoder", lambda name: create_encoder(
            "msclap", checkpoint=settings["encoder.checkpoint"], tokenizer=settings["encoder.tokenizer"], progress=False))
    run = trained(gpu_setting, "whole").run_dir  # reused: same key
    t = np.arange(RATE) / RATE
    clips = []
    for i, freq in enumerate((440.0, 1250.0)):
        clips.append(tmp_path / f"tone{i}.wav")
        sf.write(str(clips[-1]), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), RATE)
    LAYOUTS["esc50"](tmp_path / "esc50", clips)
    out = tmp_path / "out"
    evaluate_main([str(run), "--benchmark", "esc50", "--root", str(tmp_path / "esc50"), "--no-tracking",
                   "--out", str(out), "--set", "decoding.num_beams=4", "--set", "eval.transfers=[plain,santa]",
                   "--set", "eval.seeds=[0]", "--set", "decoding.max_new_tokens_classification=4"])
    for transfer in ("plain", "santa"):
        (part,) = [p for p in (out / transfer / "esc50").iterdir() if p.is_dir()]
        metrics = json.loads((part / "metrics.json").read_text())
        assert metrics["n"] == 2 and metrics["value"] is not None and metrics["inputs"]["decoding"]["num_beams"] == 4
        platform = metrics["inputs"]["platform"]
        assert platform["device"] == "cuda" and platform["gpu"] and platform["llm_dtype"] == str(HALF)
