"""The pre-flight check: with nothing present it names every missing item; stand-ins of the wrong shape are named."""
import json

import pytest
import torch
from safetensors.torch import save_file

from mats_lib.check import llm_parameters
from mats_lib.cli.check import main
from tests.tiny_tokenizers import write_tiny_tokenizer


def standins(tmp_path, width=1024, hidden=64, record=None):
    """A CLAP checkpoint laid out as MS-CLAP's (projections under 'model'), its GPT-2-shaped tokenizer, an LLM
    folder, a one-source corpus."""
    checkpoint = tmp_path / "CLAP_weights_2023.pth"
    torch.save({"model": {"audio_encoder.projection.linear2.weight": torch.zeros(width, width),
                          "caption_encoder.projection.linear2.weight": torch.zeros(width, width)}}, checkpoint)
    llm = tmp_path / "vicuna"
    llm.mkdir()
    (llm / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": 2,
                                                 "vocab_size": 100, "intermediate_size": 128,
                                                 "num_attention_heads": 4}))
    save_file({"w": torch.zeros(1)}, str(llm / "model.safetensors"))
    (llm / "tokenizer.json").write_text("{}")
    corpus = tmp_path / "AudioTIA-5M"
    corpus.mkdir()
    rows = [{"caption": "a dog barks", "output": "a dog barks", "task": "audiocaps"}] * 3 + [record or
            {"caption": "rain", "output": "rain", "task": "audiocaps"}]
    (corpus / "audiocaps.json").write_text(json.dumps(rows))  # AudioTIA-5M ships JSON arrays
    (corpus / "sources.json").write_text(json.dumps({"audiocaps": {"file": "audiocaps.json", "ratio": 40}}))
    tokenizer = write_tiny_tokenizer(tmp_path / "gpt2", "gpt2")
    return ["--set", f"encoder.checkpoint={checkpoint}", "--set", f"llm.path={llm}",
            "--set", f"encoder.tokenizer={tokenizer}",
            "--set", f"data.corpus={corpus / 'sources.json'}"]


def test_with_nothing_present_every_missing_item_is_named(capsys):
    assert main(["--preset", "paper"]) == 1
    out = capsys.readouterr().out
    for item in ("encoder.checkpoint: not set", "llm.path: not set", "data.corpus: not set",
                 "encoder.tokenizer: msclap needs its GPT-2 tokenizer"):
        assert item in out


def test_paths_that_do_not_exist_are_named(tmp_path, capsys):
    assert main(["--preset", "paper", "--set", f"llm.path={tmp_path / 'nowhere'}"]) == 1
    assert f"llm.path: {tmp_path / 'nowhere'} is not an existing folder" in capsys.readouterr().out


def test_right_standins_pass_with_an_estimate(tmp_path, capsys):
    assert main(["--preset", "paper"] + standins(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "projections {'audio': 1024, 'text': 1024}" in out and "GB per GPU" in out and "h on one A100" in out
    assert "is valid: the MS-CLAP state dict" in out and "encoder.tokenizer: GPT2Tokenizer with 347 tokens" in out


def test_a_tokenizer_that_loads_empty_is_refused_by_name(tmp_path, capsys):
    """The offline trap: transformers 5 builds a GPT-2 tokenizer from `vocab_file=` arguments it ignores, a 1-token
    vocabulary saved without an error; such a folder would make the text tower embed garbage."""
    from transformers import GPT2TokenizerFast

    args = standins(tmp_path)
    empty = tmp_path / "empty-gpt2"
    GPT2TokenizerFast(vocab_file=str(tmp_path / "gpt2" / "vocab.json"),
                      merges_file=str(tmp_path / "gpt2" / "merges.txt")).save_pretrained(str(empty))
    assert main(["--preset", "paper"] + args + ["--set", f"encoder.tokenizer={empty}"]) == 1
    out = capsys.readouterr().out
    assert f"encoder.tokenizer: {empty} has a 1-token vocabulary" in out


def test_the_estimate_counts_the_corpus_tokens_when_the_tokenizer_loads(tmp_path, capsys):
    """With a tokenizer that loads (SmolLM2's, standing in for Vicuna's) the estimate is made for the corpus's padded
    prompt + prefix + answer length; the stand-in tokenizer.json above does not load, so that run takes the cap."""
    import shutil

    from mats_lib.assets import smollm2_path
    from mats_lib.check import check
    from mats_lib.config import load_config
    from mats_lib.config import parse_overrides

    args = standins(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(smollm2_path() / name, tmp_path / "vicuna" / name)
    cfg = load_config("paper", parse_overrides(args[1::2]))
    report, measured = check(cfg)
    assert not report.problems and measured["tokens_per_sample_from"].startswith("the corpus")
    # 'a dog barks' / 'rain': a few prompt tokens + the 40-token prefix + a short answer, far below the cap
    assert 40 < measured["tokens_per_sample"] < 80 < 30 + 40 + cfg.data.max_answer_tokens
    (tmp_path / "vicuna" / "tokenizer.json").write_text("{}")
    (tmp_path / "vicuna" / "tokenizer_config.json").unlink()
    _, capped = check(cfg)
    assert capped["tokens_per_sample"] == 220 and capped["tokens_per_sample_from"] == "the answer cap (upper bound)"


@pytest.mark.parametrize("change,problem", [
    ({"width": 512}, "audio projection is 512-d, msclap is 1024-d"),
    ({"record": {"caption": "rain", "task": "audiocaps"}}, "audiocaps.json, record 4: missing field 'output'"),
])
def test_standins_of_the_wrong_shape_are_named(tmp_path, capsys, change, problem):
    assert main(["--preset", "paper"] + standins(tmp_path, **change)) == 1
    assert problem in capsys.readouterr().out


def test_an_llm_folder_without_weights_or_tokenizer_is_named(tmp_path, capsys):
    args = standins(tmp_path)
    (tmp_path / "vicuna" / "model.safetensors").unlink()
    (tmp_path / "vicuna" / "tokenizer.json").unlink()
    assert main(["--preset", "paper"] + args) == 1
    out = capsys.readouterr().out
    assert "holds no weights" in out and "holds no tokenizer" in out


def test_a_checkpoint_that_is_not_a_clap_is_named(tmp_path, capsys):
    args = standins(tmp_path)
    torch.save({"model": {"something.weight": torch.zeros(2, 2)}}, tmp_path / "CLAP_weights_2023.pth")
    assert main(["--preset", "paper"] + args) == 1
    assert "has no audio_encoder.projection.linear2.weight" in capsys.readouterr().out


def test_llama_7b_parameter_count():
    vicuna = {"hidden_size": 4096, "num_hidden_layers": 32, "vocab_size": 32000, "intermediate_size": 11008,
              "num_attention_heads": 32, "num_key_value_heads": 32}
    assert abs(llm_parameters(vicuna) - 6_738_415_616) / 6_738_415_616 < 0.001


def test_benchmark_roots_are_read_and_their_problems_named(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    from tests.benchmark_layouts import LAYOUTS

    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", np.zeros(1600, np.float32), 16000)
    LAYOUTS["esc50"](tmp_path / "esc", [tmp_path / "a.wav", tmp_path / "b.wav"])
    LAYOUTS["clotho"](tmp_path / "clotho", [tmp_path / "a.wav", tmp_path / "b.wav"])
    args = ["--preset", "paper"] + standins(tmp_path)
    assert main(args + ["--benchmark", f"esc50={tmp_path / 'esc'}", "--benchmark", f"clotho={tmp_path / 'clotho'}"]) == 0
    out = capsys.readouterr().out
    assert "benchmark esc50: 2 items" in out and "benchmark clotho: 2 items" in out
    (tmp_path / "esc" / "audio" / "1-2-A-1.wav").unlink()
    (tmp_path / "clotho" / "clotho_captions_evaluation.csv").write_text("file_name,caption_1\nx.wav,a\n")
    assert main(args + ["--benchmark", f"esc50={tmp_path / 'esc'}", "--benchmark", f"clotho={tmp_path / 'clotho'}",
                        "--benchmark", f"gtzan={tmp_path / 'nowhere'}", "--benchmark", f"nope={tmp_path}"]) == 1
    out = capsys.readouterr().out
    assert "benchmark esc50: 1 listed clip(s) not on disk" in out
    assert "benchmark clotho: " in out and "missing column(s) ['caption_2'" in out
    assert f"benchmark gtzan: {tmp_path / 'nowhere'} is not an existing folder" in out
    assert "benchmark nope: unknown benchmark 'nope'" in out


def test_a_laion_checkpoint_in_its_original_layout_passes_and_a_wrong_width_is_named(tmp_path, capsys):
    """LAION-CLAP's original .pt: the projections as audio_projection.2 / text_projection.2 under 'state_dict', each
    key prefixed 'module.' (saved from DDP); 512-d."""
    args = standins(tmp_path)
    laion = tmp_path / "630k-audioset-best.pt"
    for width, ok in ((512, True), (768, False)):
        torch.save({"state_dict": {"module.audio_projection.2.weight": torch.zeros(width, width),
                                   "module.text_projection.2.weight": torch.zeros(width, width)}}, laion)
        roberta = write_tiny_tokenizer(tmp_path / "roberta", "roberta")
        code = main(["--preset", "paper", "--set", "encoder.name=laion", "--set", f"encoder.checkpoint={laion}"]
                    + args[2:] + ["--set", f"encoder.tokenizer={roberta}"])
        out = capsys.readouterr().out
        if ok:
            assert "is valid: the original LAION-CLAP file, projections {'audio': 512, 'text': 512}" in out
            assert "laion is" not in out and "has no" not in out
        else:
            assert code == 1 and "audio projection is 768-d, laion is 512-d" in out


def test_a_laion_hugging_face_folder_is_read_by_its_headers_and_a_wrong_width_is_named(tmp_path, capsys):
    """transformers' ClapModel layout (what `mats_lib.cli.convert_laion` writes): projections as
    audio_projection.linear2 / text_projection.linear2 in model.safetensors beside a config.json."""
    args = standins(tmp_path)
    roberta = write_tiny_tokenizer(tmp_path / "roberta", "roberta")
    folder = tmp_path / "clap-htsat-unfused"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clap"}))
    for width, ok in ((512, True), (256, False)):
        save_file({"audio_projection.linear2.weight": torch.zeros(width, 4),
                   "text_projection.linear2.weight": torch.zeros(width, 4),
                   "text_model.embeddings.word_embeddings.weight": torch.zeros(100, 4)}, str(folder / "model.safetensors"))
        code = main(["--preset", "paper", "--set", "encoder.name=laion", "--set", f"encoder.checkpoint={folder}"]
                    + args[2:] + ["--set", f"encoder.tokenizer={roberta}"])
        out = capsys.readouterr().out
        if ok:
            # the checkpoint's format is valid; its 100-row text embedding is smaller than the tokenizer: named
            assert code == 1 and "is valid: a Hugging Face ClapModel folder, projections {'audio': 512, 'text': 512}" in out
            assert "has 351 tokens, the text tower's embedding table 100 rows" in out
        else:
            assert code == 1 and "text projection is 256-d, laion is 512-d" in out


@pytest.fixture(scope="module")
def real_layouts(upstream_reference, tmp_path_factory):
    """Random weights in each paper CLAP's real architecture and file format: MS-CLAP's 2023 .pth, LAION's original
    .pt, and the Hugging Face folder the converter writes from it; with matching small tokenizers."""
    from mats_lib.cli.convert_laion import main as convert
    from tests.upstream_laion import write_random_laion_checkpoint
    from tests.upstream_msclap import write_random_msclap_checkpoint

    folder = tmp_path_factory.mktemp("layouts")
    laion = write_random_laion_checkpoint(folder / "630k-audioset-best.pt", reference=upstream_reference)
    assert convert([str(laion), str(folder / "clap-hf")]) == 0
    return {"msclap": write_random_msclap_checkpoint(folder / "CLAP_weights_2023.pth", root=upstream_reference),
            "laion": laion, "laion-hf": folder / "clap-hf",
            "gpt2": write_tiny_tokenizer(folder / "gpt2", "gpt2"), "roberta": write_tiny_tokenizer(folder / "rob", "roberta")}


@pytest.mark.parametrize("layout,name,tokenizer,fmt", [
    ("msclap", "msclap", "gpt2", "the MS-CLAP state dict"),
    ("laion", "laion", "roberta", "the original LAION-CLAP file"),
    ("laion-hf", "laion", "roberta", "a Hugging Face ClapModel folder")])
def test_the_check_finds_real_layouts_valid_and_names_a_cut_or_wrong_file(real_layouts, tmp_path, capsys, layout, name,
                                                                          tokenizer, fmt):
    width = {"msclap": 1024, "laion": 512}[name]
    base = ["--preset", "paper", "--set", f"encoder.name={name}", "--set", f"encoder.tokenizer={real_layouts[tokenizer]}"]
    main(base + ["--set", f"encoder.checkpoint={real_layouts[layout]}"])  # other paper paths missing: exit 1 anyway
    out = capsys.readouterr().out
    assert f"is valid: {fmt}, projections {{'audio': {width}, 'text': {width}}}" in out
    assert "MISSING/WRONG  encoder." not in out and "MISSING/WRONG  llm.path" in out
    assert f"encoder.tokenizer: {'GPT2' if tokenizer == 'gpt2' else 'Roberta'}Tokenizer with" in out
    source = real_layouts[layout]
    cut = tmp_path / "cut"
    if source.is_dir():  # a folder whose weights file stops half-way
        import shutil

        shutil.copytree(source, cut)
        weights = cut / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    assert main(base + ["--set", f"encoder.checkpoint={cut}"]) == 1
    assert f"encoder.checkpoint: {cut} cannot be read as {fmt} of {name}" in capsys.readouterr().out
    other = {"msclap": real_layouts["laion"], "laion": real_layouts["msclap"]}[name]
    if not source.is_dir():  # the other CLAP's file: its projection key is named
        assert main(base + ["--set", f"encoder.checkpoint={other}"]) == 1
        key = "audio_encoder.projection.linear2.weight" if name == "msclap" else "audio_projection.2.weight"
        assert f"has no {key} (not {fmt} of {name}?)" in capsys.readouterr().out
