"""LAION-CLAP as transformers' ClapModel against the upstream model code, on seeded random weights (tiny towers at the
real layer names, tests/upstream_laion.py): the converter, both checkpoint formats, each tower on identical inputs,
the front end on its own, the tokeniser settings, and the checkpoints that must be refused."""
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from mats_lib.encoders import create_encoder
from mats_lib.encoders.checkpoint_files import CheckpointError, read_state_dict
from mats_lib.encoders.laion import CLIP_SECONDS, FRONT_END, LAION_SAMPLE_RATE, MAX_TOKENS, int16_round_trip, \
    log_mel, mel_filters
from mats_lib.encoders.laion_convert import DERIVED, IGNORED, convert_laion_state_dict, matches_any
from tests import upstream_laion
from tests.tiny_tokenizers import write_tiny_tokenizer

# Measured on CPU (float32 towers, outputs of scale 1-3): audio tower 6e-7 and text tower 7e-7 on identical inputs;
# front end vs upstream 2e-4 dB within 60 dB of a clip's peak and 0.10 dB at most far below it (upstream's float32
# STFT rounding), vs transformers' float64 ClapFeatureExtractor 8e-6 dB; end to end (L2-normalised) audio 1.5e-6,
# text 7e-8.
TOWER_ATOL = END_TO_END_ATOL = 1e-5
MEL_ATOL_NEAR_PEAK, MEL_ATOL_ANYWHERE = 1e-3, 0.2
CAPTIONS = ["a dog barks", "rain falls on a tin roof while birds sing in the morning",
            " ".join(["a bell rings twice and water flows in a stream"] * 12)]  # > 77 tokens: truncated


def exact_clips(seconds=CLIP_SECONDS):
    """Exact 10 s clips at 48 kHz: tone, noise, decaying high tone, quiet noise, half silence."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * LAION_SAMPLE_RATE)) / LAION_SAMPLE_RATE
    return [(0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
            (0.1 * rng.standard_normal(t.size)).astype(np.float32),
            (0.5 * np.sin(2 * np.pi * 3000 * t) * np.exp(-t)).astype(np.float32),
            (1e-3 * rng.standard_normal(t.size)).astype(np.float32),
            (np.clip(0.8 * rng.standard_normal(t.size), -1, 1) * (t < 5)).astype(np.float32)]



@pytest.fixture(scope="module")
def laion(upstream_reference, tmp_path_factory):
    """The seeded upstream model, its original .pt, the tiny tokenizer, the CLI's HF folder, and both encoders."""
    from mats_lib.cli.convert_laion import main

    folder = tmp_path_factory.mktemp("laion")
    model = upstream_laion.build_upstream_clap(upstream_reference)
    checkpoint = upstream_laion.save_as_original(model, folder / "630k-audioset-best.pt")
    tokenizer = write_tiny_tokenizer(folder / "roberta", "roberta")
    assert main([str(checkpoint), str(folder / "hf")]) == 0
    settings = {"tokenizer": tokenizer, "cache": False, "progress": False, "device": "cpu"}
    return types.SimpleNamespace(
        upstream=model, checkpoint=checkpoint, tokenizer=tokenizer, hf=folder / "hf", folder=folder,
        original=create_encoder("laion", checkpoint=checkpoint, **settings),
        converted=create_encoder("laion", checkpoint=folder / "hf", **settings))


def upstream_audio_from_mel(model, mel):
    """Upstream projection of a given log-mel: its extractors bypassed, everything after them its own code."""
    branch = model.audio_branch
    saved = branch.spectrogram_extractor, branch.logmel_extractor
    branch.spectrogram_extractor = branch.logmel_extractor = torch.nn.Identity()
    try:
        with torch.no_grad():
            return model({"waveform": mel}, None, device="cpu")
    finally:
        branch.spectrogram_extractor, branch.logmel_extractor = saved


def upstream_log_mel(model, waves):
    branch = model.audio_branch
    with torch.no_grad():
        return branch.logmel_extractor(branch.spectrogram_extractor(torch.from_numpy(np.stack(waves))))


def ours_audio_from_mel(encoder, mel):
    with torch.no_grad():
        return encoder.model.audio_projection(encoder.model.audio_model(input_features=mel).pooler_output)


# ---------------------------------------------------------------------------------------------- the upstream loader
def test_the_stubs_stand_in_only_for_absent_modules_and_are_gone_afterwards(upstream_reference):
    upstream = upstream_laion.load_upstream(upstream_reference)
    assert set(upstream_laion.STUBS) == {"torchvision", "torchvision.ops", "torchvision.ops.misc", "h5py"}
    for name in upstream_laion.STUBS:
        assert importlib.util.find_spec(name.split(".")[0]) is None, f"{name} is installed: drop its stub"
        assert name not in sys.modules
    assert not [m for m in sys.modules if m.startswith(upstream_laion.PACKAGE) or m.split(".")[0] in
                ("laion_clap", "clap_module", "webdataset")]
    assert upstream.model.CLAP.__module__ == f"{upstream_laion.PACKAGE}.model"


# ---------------------------------------------------------------------------------------------- the converter
def test_every_original_key_is_mapped_or_on_the_named_ignore_list(laion):
    state = read_state_dict(laion.checkpoint)
    config, converted = convert_laion_state_dict(state)
    ignored = {k for k in state if matches_any(k, IGNORED)}
    for pattern in IGNORED:  # no dead entries: each names something the real layout holds
        assert any(matches_any(k, [pattern]) for k in ignored), pattern
    assert {k.split(".")[0] + "." + k.split(".")[1] for k in ignored} == {
        "text_branch.embeddings", "audio_branch.spectrogram_extractor", "audio_branch.logmel_extractor",
        "audio_branch.layers", "audio_branch.tscam_conv", "audio_branch.head", "audio_transform.sequential",
        "text_transform.sequential"}
    assert len(converted) == len(state) - len(ignored) + 2 * 16  # 8 blocks x (weight, bias): qkv -> q, k, v
    # every ClapModel tensor came from the file (the derived buffers excepted), in both encoders
    for encoder in (laion.original, laion.converted):
        loaded = encoder.model.state_dict()
        assert {k for k in loaded if k not in converted} == {k for k in loaded if matches_any(k, DERIVED)}
        for key, tensor in converted.items():
            assert torch.equal(loaded[key].cpu(), tensor), key
    qkv = state["audio_branch.layers.1.blocks.1.attn.qkv.weight"]  # stage 1 is 16 wide: rows q, k, v
    prefix = "audio_model.audio_encoder.layers.1.blocks.1.attention.self"
    assert [torch.equal(converted[f"{prefix}.{p}.weight"], qkv[i * 16:(i + 1) * 16])
            for i, p in enumerate(("query", "key", "value"))] == [True] * 3


def test_the_configuration_is_read_from_the_shapes(laion):
    config, _ = convert_laion_state_dict(read_state_dict(laion.checkpoint))
    audio, text = config.audio_config, config.text_config
    tiny, roberta = upstream_laion.TINY_HTSAT, upstream_laion.TINY_ROBERTA
    assert (audio.patch_embeds_hidden_size, list(audio.depths), list(audio.num_attention_heads), audio.window_size) \
        == (tiny["embed_dim"], tiny["depths"], tiny["num_heads"], tiny["window_size"])
    assert (audio.hidden_size, audio.num_mel_bins, audio.spec_size, audio.enable_fusion) == (64, 64, 256, False)
    assert {k: getattr(text, k) for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                          "intermediate_size", "max_position_embeddings", "layer_norm_eps")} == \
        {k: roberta[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                 "intermediate_size", "max_position_embeddings", "layer_norm_eps")}
    assert config.projection_dim == 512 and config.projection_hidden_act == "relu"


# ---------------------------------------------------------------------------------------------- parity
def test_width_and_unit_norm_outputs_in_both_formats(laion):
    for encoder in (laion.original, laion.converted):
        assert encoder.dim == 512 and encoder.sample_rate == 48_000 and encoder.clip_seconds == 10.0
        for out in (encoder.embed_text(CAPTIONS[:2]), encoder.embed_audio(exact_clips()[:2])):
            assert out.dtype == np.float32 and out.shape == (2, 512)
            np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert laion.original.settings()["format"] == "laion-original"
    # the settings (hence the cache's name) do not change once the tokenizer has been used
    fresh = create_encoder("laion", checkpoint=laion.checkpoint, tokenizer=laion.tokenizer, cache=False)
    assert laion.original.settings()["tokenizer"] == laion.converted.settings()["tokenizer"] == \
        fresh.settings()["tokenizer"]
    assert laion.converted.settings()["format"] == "hf-folder"


def test_the_audio_tower_matches_upstream_on_the_same_log_mel(laion):
    mel = upstream_log_mel(laion.upstream, [int16_round_trip(w) for w in exact_clips()[:3]])
    reference = upstream_audio_from_mel(laion.upstream, mel)
    assert reference.shape == (3, 512) and reference.abs().max() > 0.1
    for encoder in (laion.original, laion.converted):
        diff = float((ours_audio_from_mel(encoder, mel) - reference).abs().max())
        print(f"\naudio tower + projection ({encoder.settings()['format']}) max |diff| {diff:.1e}")
        assert diff < TOWER_ATOL


def test_the_text_tower_matches_upstream_on_the_same_token_ids(laion):
    ids = laion.original.tokenizer(CAPTIONS, padding="max_length", truncation=True, max_length=77,
                                   return_tensors="pt")
    ids = {k: ids[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        reference = laion.upstream.encode_text(dict(ids), device="cpu")
        for encoder in (laion.original, laion.converted):
            ours = encoder.model.text_projection(encoder.model.text_model(**ids).pooler_output)
            diff = float((ours - reference).abs().max())
            print(f"\ntext tower + projection ({encoder.settings()['format']}) max |diff| {diff:.1e}")
            assert diff < TOWER_ATOL


def test_the_front_end_matches_upstream_on_exact_10_s_clips(laion):
    cfg = upstream_laion.load_upstream().config["audio_cfg"]
    assert (cfg["sample_rate"], cfg["window_size"], cfg["hop_size"], cfg["mel_bins"], cfg["fmin"], cfg["fmax"],
            cfg["clip_samples"]) == (LAION_SAMPLE_RATE, FRONT_END["n_fft"], FRONT_END["hop"], FRONT_END["mel_bins"],
                                     FRONT_END["fmin"], FRONT_END["fmax"], int(LAION_SAMPLE_RATE * CLIP_SECONDS))
    melW = laion.upstream.audio_branch.logmel_extractor.melW.double().numpy()
    assert np.abs(melW - mel_filters()).max() < 1e-8  # same bank as the upstream's librosa one
    waves = [int16_round_trip(w) for w in exact_clips()]
    reference = upstream_log_mel(laion.upstream, waves).double()
    ours = log_mel(torch.from_numpy(np.stack(waves)), torch.from_numpy(mel_filters())).double()
    assert ours.shape == reference.shape == (5, 1, 1001, 64)  # centred frames: 480000 / 480 + 1
    error = (ours - reference).abs()
    near_peak = reference > reference.amax(dim=(1, 2, 3), keepdim=True) - 60
    print(f"\nlog-mel max |diff| {float(error[near_peak].max()):.1e} dB within 60 dB of the peak, "
          f"{float(error.max()):.2f} dB anywhere")
    assert error[near_peak].max() < MEL_ATOL_NEAR_PEAK and error.max() < MEL_ATOL_ANYWHERE
    # and against transformers' numpy ClapFeatureExtractor set to the same facts (an independent float64 version)
    from transformers import ClapFeatureExtractor

    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=LAION_SAMPLE_RATE, hop_length=FRONT_END["hop"],
                                     max_length_s=10, fft_window_size=FRONT_END["n_fft"], frequency_min=50,
                                     frequency_max=14_000, top_db=None, truncation="rand_trunc")
    theirs = extractor(waves, sampling_rate=LAION_SAMPLE_RATE, return_tensors="pt")["input_features"].double()
    assert (ours - theirs).abs().max() < 1e-4


def test_end_to_end_audio_matches_upstream(laion):
    waves = exact_clips()
    with torch.no_grad():  # upstream: quantise, exact-length clip as is, its own front end, normalised projection
        reference = laion.upstream.get_audio_embedding(
            [{"waveform": torch.from_numpy(int16_round_trip(w))} for w in waves]).numpy()
    for encoder in (laion.original, laion.converted):
        ours = encoder.embed_audio(waves)
        print(f"\naudio end to end ({encoder.settings()['format']}) max |diff| {np.abs(ours - reference).max():.1e}")
        np.testing.assert_allclose(ours, reference, atol=END_TO_END_ATOL)


def test_in_memory_clips_get_the_loaders_length_rule_never_a_random_crop(laion):
    from mats_lib.audio import fix_length

    wave = exact_clips()[1]
    short, long = wave[: 4 * LAION_SAMPLE_RATE], np.concatenate([wave, wave[: 2 * LAION_SAMPLE_RATE]])
    n = int(LAION_SAMPLE_RATE * CLIP_SECONDS)
    got = laion.original.embed_audio([short, long, long])
    want = laion.original.embed_audio([fix_length(short, n), fix_length(long, n)])
    assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes() == got[2].tobytes()


def test_the_int16_round_trip_is_the_upstream_one():
    x = np.array([-2.0, -1.0, -0.5, 1e-6, 0.3, 0.99999, 1.0, 3.0], dtype=np.float32)
    want = ((np.clip(x, -1, 1) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)
    assert int16_round_trip(x).tobytes() == want.tobytes() and int16_round_trip(x).dtype == np.float32


def test_end_to_end_text_matches_the_upstream_tokenisation(laion):
    """Upstream: RobertaTokenizer, padding to max_length 77, truncation; here padding to the longest (masked)."""
    from transformers import RobertaTokenizer

    upstream_tokenizer = RobertaTokenizer.from_pretrained(str(laion.tokenizer))  # hook.py: from_pretrained
    upstream_ids = upstream_tokenizer(CAPTIONS, padding="max_length", truncation=True, max_length=77,
                                      return_tensors="pt")
    ours_ids = laion.original.tokenizer(CAPTIONS, padding=True, truncation=True, max_length=MAX_TOKENS,
                                        return_tensors="pt")
    assert upstream_ids["attention_mask"][2].sum() == 77  # the long caption is truncated to 77 tokens
    for row in range(len(CAPTIONS)):
        n = int(upstream_ids["attention_mask"][row].sum())
        assert upstream_ids["input_ids"][row, :n].tolist() == ours_ids["input_ids"][row, :n].tolist()
        assert int(ours_ids["attention_mask"][row].sum()) == n
    with torch.no_grad():
        reference = laion.upstream.get_text_embedding(
            {k: upstream_ids[k] for k in ("input_ids", "attention_mask")}).numpy()
    for encoder in (laion.original, laion.converted):
        ours = encoder.embed_text(CAPTIONS)
        print(f"\ntext end to end ({encoder.settings()['format']}) max |diff| {np.abs(ours - reference).max():.1e}")
        np.testing.assert_allclose(ours, reference, atol=END_TO_END_ATOL)


# ---------------------------------------------------------------------------------------------- refusals
def test_a_truncated_file_is_refused_naming_it(laion, tmp_path):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(laion.checkpoint.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="cut.pt cannot be read"):
        create_encoder("laion", checkpoint=cut, tokenizer=laion.tokenizer, cache=False)


def edited(laion, tmp_path, change):
    state = read_state_dict(laion.checkpoint)
    change(state)
    path = tmp_path / "edited.pt"
    torch.save({"state_dict": state}, path)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("audio_branch.layers.2.blocks.1.attn.qkv.weight"),
     "lacks audio_branch.layers.2.blocks.1.attn.qkv.weight"),
    (lambda s: s.pop("text_projection.2.bias"), "lacks text_projection.2.bias"),
    (lambda s: s.update({"text_projection.2.weight": torch.zeros(256, 512)}),
     r"text_projection.2.weight has shape \(256, 512\)"),
    (lambda s: s.update({"audio_branch.extra.weight": torch.zeros(2)}), "unexpected key audio_branch.extra.weight"),
])
def test_a_missing_odd_or_unknown_key_is_refused_naming_it(laion, tmp_path, change, message):
    with pytest.raises(CheckpointError, match=message):
        create_encoder("laion", checkpoint=edited(laion, tmp_path, change), tokenizer=laion.tokenizer, cache=False)


def test_a_checkpoint_of_another_width_is_refused_naming_the_width(upstream_reference, laion, tmp_path):
    other = upstream_laion.write_random_laion_checkpoint(tmp_path / "w256.pt", width=256, reference=upstream_reference)
    with pytest.raises(CheckpointError, match="audio_projection.2.weight is 256 wide; LAION-CLAP's joint space is 512"):
        create_encoder("laion", checkpoint=other, tokenizer=laion.tokenizer, cache=False)


def test_a_fused_checkpoint_is_refused_with_what_to_give_instead(upstream_reference, laion, tmp_path):
    fused = upstream_laion.write_random_laion_checkpoint(tmp_path / "630k-fusion-best.pt", fused=True,
                                                         reference=upstream_reference)
    with pytest.raises(CheckpointError, match=r"fused LAION-CLAP checkpoint \(audio_branch.patch_embed.*unfused"):
        create_encoder("laion", checkpoint=fused, tokenizer=laion.tokenizer, cache=False)


def test_a_foreign_mel_bank_is_refused(laion, tmp_path):
    path = edited(laion, tmp_path, lambda s: s["audio_branch.logmel_extractor.melW"].mul_(1.1))
    with pytest.raises(CheckpointError, match="melW"):
        create_encoder("laion", checkpoint=path, tokenizer=laion.tokenizer, cache=False)


def test_a_folder_with_a_missing_or_cut_weight_file_is_refused(laion, tmp_path):
    import shutil

    folder = shutil.copytree(laion.hf, tmp_path / "hf")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50_000])
    with pytest.raises(CheckpointError, match="does not load as a ClapModel"):
        create_encoder("laion", checkpoint=folder, tokenizer=laion.tokenizer, cache=False)
    weights.unlink()
    with pytest.raises(CheckpointError):
        create_encoder("laion", checkpoint=folder, tokenizer=laion.tokenizer, cache=False)


def test_a_folder_missing_a_weight_is_refused_naming_it_but_derived_buffers_may_be_absent(laion, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = shutil.copytree(laion.hf, tmp_path / "hf")
    tensors = load_file(folder / "model.safetensors")
    for key in [k for k in tensors if matches_any(k, DERIVED)]:  # older saves lack these buffers: still complete
        del tensors[key]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    encoder = create_encoder("laion", checkpoint=folder, tokenizer=laion.tokenizer, cache=False, progress=False)
    np.testing.assert_array_equal(encoder.embed_text(CAPTIONS[:1]), laion.converted.embed_text(CAPTIONS[:1]))
    clip = exact_clips()[:1]  # the rebuilt relative-position indices are the saved ones
    np.testing.assert_array_equal(encoder.embed_audio(clip), laion.converted.embed_audio(clip))
    del tensors["audio_model.audio_encoder.layers.1.blocks.0.attention.self.key.bias"]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="missing keys: audio_model.audio_encoder.layers.1.blocks.0.attention"):
        create_encoder("laion", checkpoint=folder, tokenizer=laion.tokenizer, cache=False)


def test_the_tokenizer_is_required_unless_the_folder_holds_one(laion, tmp_path):
    from mats_lib.cli.convert_laion import main
    from mats_lib.encoders.text_tokenizer import TokenizerError

    with pytest.raises(TokenizerError, match="encoder.tokenizer"):
        create_encoder("laion", checkpoint=laion.checkpoint, cache=False)
    with pytest.raises(TokenizerError, match="encoder.tokenizer"):
        create_encoder("laion", checkpoint=laion.hf, cache=False)
    assert main([str(laion.checkpoint), str(tmp_path / "with"), "--tokenizer", str(laion.tokenizer)]) == 0
    encoder = create_encoder("laion", checkpoint=tmp_path / "with", cache=False, progress=False)
    assert encoder.settings()["tokenizer"] == laion.original.settings()["tokenizer"]
    np.testing.assert_array_equal(encoder.embed_text(CAPTIONS[:1]), laion.converted.embed_text(CAPTIONS[:1]))


def test_the_command_refuses_to_overwrite_and_names_bad_input(laion, tmp_path, capsys):
    from mats_lib.cli.convert_laion import main

    assert main([str(laion.checkpoint), str(laion.hf)]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert main([str(tmp_path / "none.pt"), str(tmp_path / "out")]) == 2
    assert "none.pt" in capsys.readouterr().err
    fused = upstream_laion.write_random_laion_checkpoint(tmp_path / "f.pt", fused=True)
    assert main([str(fused), str(tmp_path / "out")]) == 2
    assert "fused LAION-CLAP" in capsys.readouterr().err
    assert sorted(p.name for p in laion.hf.iterdir()) == ["config.json", "conversion.json", "model.safetensors"]
