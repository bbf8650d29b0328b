"""MS-CLAP 2023 as built here (``mats_lib.encoders.msclap``) against the upstream code (msclap 1.3.4 in build/reference,
loaded by ``tests/upstream_msclap.py``) on the same small random weights, saved in the 2023 checkpoint's format and
read by upstream's own CLAPWrapper. Skips without `make reference` unless MATS_REQUIRE_REFERENCE=1.

Tolerances: towers and end-to-end embeddings 1e-5 (absolute, float32 on CPU; outputs are O(1)); the log-mel front end
1e-4 dB (values span about -100..+40 dB).
"""
from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pytest
import torch

from mats_lib.audio import fix_length
from mats_lib.encoders import create_encoder
from mats_lib.encoders.checkpoint_files import CheckpointError
from mats_lib.encoders.msclap import (AUDIO_RATE, AUDIO_SECONDS, CAPTION_TOKENS, MEL_SETTINGS, STFT_SETTINGS,
                                      checkpoint_name, front_end, ignored_reason)
from mats_lib.encoders.text_tokenizer import TokenizerError
from tests.tiny_tokenizers import write_tiny_tokenizer
from tests.upstream_msclap import PACKAGE, upstream, upstream_wrapper, write_random_msclap_checkpoint

WIDTH = 32
SAMPLES = int(AUDIO_RATE * AUDIO_SECONDS)  # 308,700: exact-length clips, so upstream never crops at random
TOL = 1e-5
MEL_TOL = 1e-4
TEXTS = ["a dog barks", "birds sing in the morning!", "a bell rings twice while water flows in a stream", "rain!"]


def _gpt2_like(plain, folder):
    """The tiny tokenizer with the ids of '!' and '<|endoftext|>' swapped: '!' is id 0, as in GPT-2's vocabulary,
    which upstream's pooling rule (count the ids that are not 0) relies on."""
    from transformers import GPT2TokenizerFast

    vocab = json.loads((plain / "vocab.json").read_text())
    vocab["!"], vocab["<|endoftext|>"] = vocab["<|endoftext|>"], vocab["!"]
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text((plain / "merges.txt").read_text())
    GPT2TokenizerFast(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt")).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def files(upstream_reference, tmp_path_factory):
    folder = tmp_path_factory.mktemp("msclap")
    plain = write_tiny_tokenizer(folder / "plain", "gpt2")
    return types.SimpleNamespace(
        root=upstream_reference, folder=folder,
        checkpoint=write_random_msclap_checkpoint(folder / "CLAP_weights_small.pth", width=WIDTH,
                                                  root=upstream_reference),
        tokenizers={"plain": plain, "gpt2like": _gpt2_like(plain, folder / "gpt2like")})


def _pair(files, kind="gpt2like"):
    ours = create_encoder("msclap", checkpoint=files.checkpoint, tokenizer=files.tokenizers[kind], cache=False,
                          device="cpu", progress=False)
    return ours, upstream_wrapper(files.checkpoint, files.tokenizers[kind], files.root)


@pytest.fixture(scope="module")
def pair(files):
    """(this project's encoder, upstream's CLAPWrapper) on the same checkpoint and the GPT-2-like tokenizer."""
    return _pair(files)


def _state(files) -> dict[str, torch.Tensor]:
    return torch.load(files.checkpoint, map_location="cpu", weights_only=True)["model"]


def _waves(n=2, seconds=AUDIO_SECONDS, seed=0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * AUDIO_RATE))) / AUDIO_RATE
    return torch.from_numpy(np.stack([0.3 * np.sin(2 * np.pi * 220 * (i + 1) * t) + 0.05 * rng.standard_normal(t.size)
                                      for i in range(n)]).astype(np.float32))


def _diff(a, b) -> float:
    return float((torch.as_tensor(np.asarray(a)) - torch.as_tensor(np.asarray(b))).abs().max())


# ---------------------------------------------------------------------------------------------- the reference
def test_upstream_loader_leaves_no_trace(files, pair):
    import transformers

    up = upstream(files.root)
    assert not [name for name in sys.modules if name.split(".")[0] == PACKAGE]
    assert "torchaudio" not in sys.modules or getattr(sys.modules["torchaudio"], "__file__", None)  # no stub left
    assert up.clap.AutoModel is transformers.AutoModel and up.wrapper.AutoTokenizer is transformers.AutoTokenizer
    assert up.wrapper.CLAP is up.clap.CLAP
    init = up.htsat.HTSAT_Swin_Transformer.__init__
    assert 96 in init.__defaults__ and [2, 2, 6, 2] in init.__defaults__  # the 2023 sizes are back


def test_checkpoint_file_has_the_2023_layout(files, pair):
    blob = torch.load(files.checkpoint, map_location="cpu", weights_only=True)
    assert list(blob) == ["model"]  # what CLAPWrapper.load_clap reads
    state = blob["model"]
    assert state["audio_encoder.projection.linear2.weight"].shape == (WIDTH, WIDTH)
    assert state["caption_encoder.projection.linear2.weight"].shape == (WIDTH, WIDTH)
    assert state["caption_encoder.base.wte.weight"].shape == (400, 64)
    # upstream read the file with strict=False: it must have filled every one of its tensors from it
    reference = pair[1].clap.state_dict()
    assert set(reference) == set(state)
    assert all(torch.equal(reference[k], state[k]) for k in state)


# ---------------------------------------------------------------------------------------------- loading
def test_a_model_built_here_writes_the_released_layout_back(files, pair, tmp_path):
    """checkpoint_state inverts the loader: the towers read from the upstream file, written back, give the same
    tensors under the same names (all but the ignored ones), and a file written so loads to the same embeddings.
    The GPU check writes its full-size random MS-CLAP this way (sizes_2023)."""
    from mats_lib.encoders.msclap import checkpoint_state, sizes_2023

    ours, state = pair[0], _state(files)
    written = checkpoint_state(ours.model)
    assert set(written) == set(state) - set(ours.ignored_keys)
    assert all(torch.equal(written[k], state[k]) for k in written)
    torch.save({"model": written}, tmp_path / "written.pth")
    again = create_encoder("msclap", checkpoint=tmp_path / "written.pth", tokenizer=files.tokenizers["gpt2like"],
                           cache=False, device="cpu", progress=False)
    assert again.embed_text(TEXTS).tobytes() == ours.embed_text(TEXTS).tobytes()
    audio, text, width = sizes_2023()
    assert (audio.patch_embeds_hidden_size, list(audio.depths), text.n_embd, text.n_layer, width) == (
        96, [2, 2, 6, 2], 768, 12, 1024)


def test_every_checkpoint_key_is_loaded_or_named(files, pair):
    ours, state = pair[0], _state(files)
    shapes = {re.sub(r"\.\d+\.", ".N.", k) for k in ours.ignored_keys}
    assert shapes == {"audio_encoder.base.htsat.layers.N.blocks.N.attn_mask", "logit_scale",
                      "audio_encoder.base.htsat.tscam_conv.weight", "audio_encoder.base.htsat.tscam_conv.bias",
                      "audio_encoder.base.htsat.head.weight", "audio_encoder.base.htsat.head.bias"}
    assert ours.ignored_keys == sorted(k for k in state if ignored_reason(k))
    used = set()
    for key, tensor in ours.model.state_dict().items():  # no tensor left at its init (they start on the meta device)
        name = checkpoint_name(key)
        used.add(name)
        source = state[name]
        if ".attn.qkv." in name:
            source = source.chunk(3)[["query", "key", "value"].index(key.split(".")[-2])]
        assert tensor.device.type == "cpu" and torch.equal(tensor, source), key
    assert used | set(ours.ignored_keys) == set(state) and not used & set(ours.ignored_keys)


def test_ignored_shift_masks_are_the_ones_recomputed(files, pair):
    ours, state = pair[0], _state(files)
    masks = [k for k in state if k.endswith("attn_mask")]
    assert len(masks) == 3  # the second block of stages 0-2 (stage 3 is one 8 x 8 window: no shift)
    for key in masks:
        stage, block = map(int, re.findall(r"\.(\d+)\.", key))
        side = 64 // 2 ** stage
        layer = ours.model.htsat.layers[stage].blocks[block]
        layer.set_shift_and_window_size((side, side))
        assert torch.equal(layer.get_attn_mask(side, side, torch.float32, "cpu"), state[key]), key


def test_legacy_gpt2_buffers_are_ignored_and_unknown_keys_rejected(files, tmp_path):
    state = _state(files)
    legacy = dict(state, **{"caption_encoder.base.h.0.attn.bias": torch.tril(torch.ones(1, 1, 128, 128)).bool(),
                            "caption_encoder.base.h.0.attn.masked_bias": torch.tensor(-1e4)})
    torch.save({"model": legacy}, tmp_path / "legacy.pth")
    ours = create_encoder("msclap", checkpoint=tmp_path / "legacy.pth", tokenizer=files.tokenizers["gpt2like"],
                          cache=False, device="cpu")
    assert {"caption_encoder.base.h.0.attn.bias", "caption_encoder.base.h.0.attn.masked_bias"} <= set(ours.ignored_keys)
    torch.save({"model": dict(state, **{"audio_encoder.base.htsat.extra.weight": torch.zeros(2)})}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match=r"unknown key 'audio_encoder\.base\.htsat\.extra\.weight'"):
        create_encoder("msclap", checkpoint=tmp_path / "x.pth", tokenizer=files.tokenizers["gpt2like"], cache=False)


@pytest.mark.parametrize("key", ["caption_encoder.base.wte.weight", "caption_encoder.projection.linear2.weight",
                                 "audio_encoder.base.htsat.layers.1.blocks.0.attn.qkv.weight",
                                 "audio_encoder.base.htsat.logmel_extractor.melW"])
def test_missing_key_is_named(files, tmp_path, key):
    state = _state(files)
    del state[key]
    torch.save({"model": state}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=re.escape(f"missing key '{key}'")) as error:
        create_encoder("msclap", checkpoint=tmp_path / "missing.pth", tokenizer=files.tokenizers["gpt2like"],
                       cache=False)
    assert str(tmp_path / "missing.pth") in str(error.value)


def test_wrong_width_is_named(files, tmp_path):
    state = _state(files)  # a text projection 16 wide against an audio one 32 wide
    state.update({k: torch.randn(16, *v.shape[1:]) if v.ndim == 2 else torch.randn(16)
                  for k, v in state.items() if k.startswith("caption_encoder.projection.")})
    torch.save({"model": state}, tmp_path / "width.pth")
    with pytest.raises(CheckpointError, match=re.escape("caption_encoder.projection.linear1.weight has shape (16, 64)")
                       + ".*" + re.escape(f"need ({WIDTH}, 64)")):
        create_encoder("msclap", checkpoint=tmp_path / "width.pth", tokenizer=files.tokenizers["gpt2like"], cache=False)


def test_truncated_checkpoint_and_missing_tokenizer_are_rejected(files, tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(files.checkpoint.read_bytes()[: files.checkpoint.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=re.escape(str(truncated))):
        create_encoder("msclap", checkpoint=truncated, tokenizer=files.tokenizers["gpt2like"], cache=False)
    with pytest.raises(TokenizerError, match=r"encoder\.tokenizer"):
        create_encoder("msclap", checkpoint=files.checkpoint, cache=False)
    with pytest.raises(CheckpointError, match=r"encoder\.checkpoint"):
        create_encoder("msclap", tokenizer=files.tokenizers["gpt2like"], cache=False)


# ---------------------------------------------------------------------------------------------- outputs
def test_width_settings_and_unit_norms(files, pair):
    ours = pair[0]
    assert ours.dim == WIDTH and ours.sample_rate == 44100 and ours.clip_seconds == 7.0
    settings = ours.settings()
    assert settings["checkpoint"] == files.checkpoint.name and settings["checkpoint_bytes"] > 0
    assert len(settings["tokenizer"]) == 16 and settings["sample_rate"] == 44100 and settings["clip_seconds"] == 7.0
    for out in (ours.embed_text(TEXTS), ours.embed_audio(list(_waves(3).numpy()))):
        assert out.dtype == np.float32 and out.shape[1] == WIDTH
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_settings_are_upstreams(files):
    up = upstream(files.root)
    yml, htsat = up.config_2023, up.config  # the 2023 yml; HTSAT's own config module, which builds its mel bank
    assert (yml["sampling_rate"], yml["duration"], yml["text_len"]) == (AUDIO_RATE, AUDIO_SECONDS, CAPTION_TOKENS)
    framing = (STFT_SETTINGS["n_fft"], STFT_SETTINGS["hop_length"], MEL_SETTINGS["n_mels"])
    assert (yml["window_size"], yml["hop_size"], yml["mel_bins"]) == framing
    assert (htsat.window_size, htsat.hop_size, htsat.mel_bins) == framing
    # the mel bank's rate and band: HTSAT's config, not the yml's 44100 / 50-8000
    assert (htsat.sample_rate, htsat.fmin, htsat.fmax) == tuple(MEL_SETTINGS[k] for k in ("sr", "fmin", "fmax"))


def test_front_end_alone(pair):
    ours, ref = pair
    spectrogram, logmel = front_end()  # built from the settings here, never loaded
    upstream_htsat = ref.clap.audio_encoder.base.htsat
    for mine, theirs in ((spectrogram, upstream_htsat.spectrogram_extractor),
                         (logmel, upstream_htsat.logmel_extractor)):
        for (name, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            assert a.shape == b.shape and _diff(a, b) == 0.0, name
    x = _waves()
    with torch.inference_mode():
        mel = ours.model.log_mel(x)
        reference = upstream_htsat.logmel_extractor(upstream_htsat.spectrogram_extractor(x))
    assert mel.shape == reference.shape == (2, 1, 965, 64)  # 308,700 samples, hop 320, centred
    print(f"\nlog-mel max |diff| {_diff(mel, reference):.2e} dB")
    assert _diff(mel, reference) <= MEL_TOL


def test_clip_length_rule(pair, monkeypatch):
    ours, ref = pair
    for seconds in (3.0, AUDIO_SECONDS, 10.0):
        wave = _waves(1, seconds, seed=1)[0]
        monkeypatch.setattr(ref, "read_audio", lambda path, resample=True, wave=wave: (wave[None], AUDIO_RATE))
        theirs = ref.load_audio_into_tensor("clip.wav", int(AUDIO_SECONDS), resample=False).numpy()
        mine = fix_length(wave.numpy(), SAMPLES)  # what the loader and _embed_audio_batch do
        assert theirs.shape == mine.shape == (SAMPLES,)
        if seconds <= AUDIO_SECONDS:  # tiled (or kept): the same samples
            assert np.array_equal(theirs, mine)
        else:  # upstream crops at a random offset, this project at the centre: both a 7 s window of the clip
            start = int(np.flatnonzero(wave.numpy() == theirs[0])[0])
            assert np.array_equal(theirs, wave.numpy()[start:start + SAMPLES])
            assert np.array_equal(mine, wave.numpy()[(wave.numel() - SAMPLES) // 2:][:SAMPLES])


def test_audio_tower(pair):
    ours, ref = pair
    x, upstream_htsat = _waves(), ref.clap.audio_encoder.base.htsat
    with torch.inference_mode():  # the same log-mel into both HTSATs
        mel = upstream_htsat.logmel_extractor(upstream_htsat.spectrogram_extractor(x))
        latent, theirs_latent = ours.model.audio_latent(mel), ref.clap.audio_encoder.base(x)["embedding"]
        theirs = ref._get_audio_embeddings(x[:, None, :])
    mine = ours._embed_audio_batch(list(x.numpy()))
    print(f"\naudio latent max |diff| {_diff(latent, theirs_latent):.2e} (up to {float(latent.abs().max()):.2f}); "
          f"projected {_diff(mine, theirs):.2e} (up to {float(np.abs(mine).max()):.2f})")
    assert latent.shape == theirs_latent.shape == (2, 64) and _diff(latent, theirs_latent) <= TOL
    assert mine.shape == (2, WIDTH) and _diff(mine, theirs) <= TOL


def test_text_tower_on_the_same_ids(pair):
    ours, ref = pair
    tokens = ref.preprocess_text(TEXTS)
    pooled = []
    hook = ref.clap.caption_encoder.projection.register_forward_hook(lambda module, args, out: pooled.append(args[0]))
    try:
        theirs = ref._get_text_embeddings(tokens)
    finally:
        hook.remove()
    with torch.inference_mode():
        latent = ours.model.text_latent(tokens["input_ids"], tokens["attention_mask"])
        mine = ours.model.text_embedding(tokens["input_ids"], tokens["attention_mask"])
    print(f"\ntext latent max |diff| {_diff(latent, pooled[0]):.2e}; projected {_diff(mine, theirs):.2e} "
          f"(up to {float(mine.abs().max()):.2f})")
    assert _diff(latent, pooled[0]) <= TOL and _diff(mine, theirs) <= TOL


@pytest.mark.parametrize("kind", ["gpt2like", "plain"])
def test_text_end_to_end(files, pair, kind):
    ours, ref = pair if kind == "gpt2like" else _pair(files, kind)
    tokens = ref.preprocess_text(TEXTS)  # upstream: caption + ' <|endoftext|>', '!' padding to 77
    ids, mask = ours.tokenize(TEXTS)
    assert ids.shape == (len(TEXTS), CAPTION_TOKENS)
    assert torch.equal(ids, tokens["input_ids"]) and torch.equal(mask, tokens["attention_mask"])
    theirs = ref.get_text_embeddings(TEXTS).numpy()
    mine = ours._embed_text_batch(TEXTS)
    normalised = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
    print(f"\ntext end to end ({kind}) max |diff| {_diff(mine, theirs):.2e}; "
          f"normalised {_diff(ours.embed_text(TEXTS), normalised):.2e}")
    assert _diff(mine, theirs) <= TOL and _diff(ours.embed_text(TEXTS), normalised) <= TOL
    if kind == "gpt2like":  # upstream's pooled index: the end-of-text token, one earlier per '!' in the caption
        eot = ours.tokenizer.convert_tokens_to_ids("<|endoftext|>")
        for row, text in zip(ids, TEXTS):
            pooled = int((row != 0).sum()) - 1
            assert pooled == int((row == eot).nonzero()[0]) - text.count("!")


def test_long_caption_is_not_truncated(pair):
    ours, ref = pair
    text = " ".join(["a dog barks while rain falls on a tin roof"] * 10)
    ids, _ = ours.tokenize([text])
    assert ids.shape[1] > CAPTION_TOKENS and torch.equal(ids, ref.preprocess_text([text])["input_ids"])
    assert _diff(ours._embed_text_batch([text]), ref.get_text_embeddings([text])) <= TOL
    with pytest.raises(ValueError, match="past GPT-2's 128 positions"):
        ours.tokenize([text * 3])
