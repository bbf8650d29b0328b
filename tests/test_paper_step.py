"""The paper-step timer (mats_lib.study.paper_step) at toy size on the CPU: it trains real steps of the paper's
setting and reports its time beside the pre-flight check's estimate. Its real figures come from a GPU host."""
import json

import pytest

from mats_lib.cli.paper_step import main


def test_the_paper_step_is_timed_beside_the_checks_estimate(tmp_path):
    out = tmp_path / "step.json"
    result = main(["--architecture", "tiny", "--corpus", "build/data/audiotia_mini/sources.json", "--steps", "2",
                   "--warmup", "0", "--set", "train.batch_size=2", "--set", "train.grad_accum=2",
                   "--set", "mapper.prefix_length=4", "--set", "mapper.num_layers=1",
                   "--set", "train.device=cpu", "--set", "llm.dtype=float32", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert result["device"] == "cpu" and result["batch_size"] == 2 and len(result["seconds_per_step"]) == 2
    assert all(t > 0 for t in result["seconds_per_step"]) and result["padded_tokens_per_step_mean"] > 2 * 2 * 4
    assert result["hours_for_max_steps_on_one_device"] > 0 and result["max_steps"] == 90000
    assert result["check_estimate"]["llm_parameters"] == result["llm_parameters"]
    measured = result["check_estimate_at_corpus_tokens"]
    assert measured["tokens_per_sample_from"].startswith("the corpus") and measured["tokens_per_sample"] < 220


def test_steps_zero_gives_the_checks_estimates_alone():
    result = main(["--corpus", "build/data/audiotia_mini/sources.json", "--steps", "0"])
    assert set(result) == {"architecture", "check_estimate", "check_estimate_at_corpus_tokens"}
    assert result["check_estimate"]["llm_parameters"] > 6e9  # Vicuna-7B's shapes, never built here


@pytest.mark.parametrize("backend", ["msclap", "laion"])
def test_a_paper_clap_embeds_each_batch_inside_the_timed_step(tmp_path, backend):
    """The GPU check's step with a CLAP architecture in the loop, at toy size on the CPU: the captions of every
    micro-batch go through the CLAP's text tower inside the timed step, whose share is reported, and the step's
    utilisation is set against the device's measured matmul rate."""
    from mats_lib.encoders import create_encoder
    from mats_lib.study.paper_step import measure
    from tests.random_claps import write_laion_folder, write_msclap_checkpoint
    from tests.tiny_tokenizers import write_tiny_tokenizer

    checkpoint = (write_msclap_checkpoint(tmp_path / "clap.pth") if backend == "msclap" else
                  write_laion_folder(tmp_path / "clap"))
    tokenizer = write_tiny_tokenizer(tmp_path / "tok", "gpt2" if backend == "msclap" else "roberta")
    clap = create_encoder(backend, checkpoint=checkpoint, tokenizer=tokenizer, cache=False, progress=False, device="cpu")
    small = {"train.batch_size": 2, "train.grad_accum": 1, "mapper.prefix_length": 4, "mapper.num_layers": 1,
             "train.device": "cpu", "llm.dtype": "float32"}
    result = measure("tiny", "build/data/audiotia_mini/sources.json", steps=2, warmup=0, overrides=small, clap=clap)
    assert result["clap"] == backend and result["clap_dim"] == clap.dim
    assert 0 < result["clap_share_of_step"] < 1 and 0 < result["model_flops_utilisation"] < 1
    mini = measure("tiny", "build/data/audiotia_mini/sources.json", steps=1, warmup=0, preset="mini",
                   overrides={k: v for k, v in small.items() if not k.startswith("mapper")})
    assert mini["preset"] == "mini" and "clap" not in mini
