"""The CLAP-role encoders: determinism, the cache, the factory and the checkpoint adapters."""

import numpy as np
import pytest

from mats_lib.assets import list_source_clips
from mats_lib.encoders import EmbeddingCache, create_encoder
from mats_lib.encoders.base import AudioTextEncoder


@pytest.fixture(scope="module")
def animal_paths():
    return [c.path for c in list_source_clips("animals")]


def test_text_embedding_is_bit_identical_twice():
    enc = create_encoder("tagclap", cache=False)
    a = enc.embed_text(["a dog barks", "rain falls on a roof"])
    b = enc.embed_text(["a dog barks", "rain falls on a roof"])
    assert a.dtype == np.float32 and a.shape == (2, 384)
    assert a.tobytes() == b.tobytes()
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_audio_embedding_is_bit_identical_twice(animal_paths):
    enc = create_encoder("tagclap", cache=False)
    a = enc.embed_audio(animal_paths[:2])
    b = enc.embed_audio(animal_paths[:2])
    assert a.shape == (2, 384) and a.tobytes() == b.tobytes()


def test_cache_hit_returns_the_computed_bytes(tmp_cache, animal_paths):
    enc = create_encoder("tagclap")
    computed_text = enc.embed_text(["a cow moos"])
    computed_audio = enc.embed_audio(animal_paths[:3])
    fresh = create_encoder("tagclap")  # a new object: it can only get these from disk
    assert len(fresh.cache) == 4
    fresh._embed_audio_batch = fresh._embed_text_batch = None  # a hit must not compute
    assert fresh.embed_text(["a cow moos"]).tobytes() == computed_text.tobytes()
    assert fresh.embed_audio(animal_paths[:3]).tobytes() == computed_audio.tobytes()


def test_cache_is_keyed_by_settings(tmp_cache):
    mean, peak = create_encoder("tagclap", pooling="mean"), create_encoder("tagclap", pooling="max")
    assert mean.fingerprint() != peak.fingerprint()
    mean.embed_text(["a bell rings"])
    assert len(mean.cache) == 1 and len(peak.cache) == 0
    assert mean.cache.path != peak.cache.path


def test_cache_rejects_wrong_shapes(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite", dim=4)
    with pytest.raises(ValueError, match="expected"):
        cache.put_many({"k": np.zeros(3)})


def test_in_memory_wave_and_bad_text(tmp_cache):
    enc = create_encoder("tagclap")
    wave = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    assert enc.embed_audio([wave]).shape == (1, 384)
    with pytest.raises(ValueError, match="non-empty string"):
        enc.embed_text(["ok", ""])


def test_missing_clip_is_named(tmp_cache, tmp_path):
    enc = create_encoder("tagclap")
    with pytest.raises(ValueError, match="nope.wav: file not found"):
        enc.embed_audio([tmp_path / "nope.wav"])


def test_zero_shot_animals(tmp_cache, animal_paths):
    """The embedded encoder names at least 6 of the 10 packaged animal clips (chance 1/10)."""
    enc = create_encoder("tagclap")
    names = [p.stem for p in animal_paths]
    scores = enc.embed_audio(animal_paths) @ enc.embed_text([f"the sound of a {n}" for n in names]).T
    correct = int((scores.argmax(1) == np.arange(len(names))).sum())
    assert correct >= 6, f"{correct}/10"


def test_factory_unknown_name():
    with pytest.raises(ValueError, match="unknown encoder 'clap9'"):
        create_encoder("clap9")


# ------------------------------------------------------------------ the paper's CLAPs, on random real-architecture weights
@pytest.fixture(scope="module")
def paper_claps(upstream_reference, tmp_path_factory):
    """{backend: (checkpoint, tokenizer)}: random weights in each upstream's own layout and file format (tiny towers,
    the real projection widths), with small trained tokenizers. The parity tests compare these with the upstream."""
    from tests.tiny_tokenizers import write_tiny_tokenizer
    from tests.upstream_laion import write_random_laion_checkpoint
    from tests.upstream_msclap import write_random_msclap_checkpoint

    folder = tmp_path_factory.mktemp("paper_claps")
    return {"msclap": (write_random_msclap_checkpoint(folder / "CLAP_weights_2023.pth", root=upstream_reference),
                       write_tiny_tokenizer(folder / "gpt2", "gpt2")),
            "laion": (write_random_laion_checkpoint(folder / "630k-audioset-best.pt", reference=upstream_reference),
                      write_tiny_tokenizer(folder / "roberta", "roberta"))}


@pytest.mark.parametrize("backend,dim", [("msclap", 1024), ("laion", 512)])
def test_the_paper_claps_take_any_audio_through_the_shared_machinery(backend, dim, paper_claps, tmp_cache, write_wave):
    from tests.conftest import tone

    checkpoint, tokenizer = paper_claps[backend]
    enc = create_encoder(backend, checkpoint=checkpoint, tokenizer=tokenizer, progress=False)
    assert isinstance(enc, AudioTextEncoder) and enc.dim == dim
    stereo_96k = write_wave("clip.wav", tone(0.3, 96000, channels=2), 96000)  # resampled, averaged, tiled
    audio = enc.embed_audio([stereo_96k, stereo_96k])
    text = enc.embed_text(["a siren", "a dog barks loudly"])
    assert audio.shape == (2, dim) and text.shape == (2, dim)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    assert audio[0].tobytes() == audio[1].tobytes() and not np.allclose(text[0], text[1])
    assert enc.cache.path.name.startswith(backend) and len(enc.cache) == 3  # the two identical clips: one entry


@pytest.mark.parametrize("backend", ["msclap", "laion"])
def test_the_paper_claps_say_what_is_missing(backend, paper_claps, tmp_path):
    from mats_lib.encoders.checkpoint_files import CheckpointError
    from mats_lib.encoders.text_tokenizer import TokenizerError

    checkpoint, _ = paper_claps[backend]
    with pytest.raises(CheckpointError, match="needs encoder.checkpoint="):
        create_encoder(backend)
    with pytest.raises(CheckpointError, match="checkpoint not found: .*absent.pth"):
        create_encoder(backend, checkpoint=tmp_path / "absent.pth")
    with pytest.raises(TokenizerError, match="give encoder.tokenizer="):
        create_encoder(backend, checkpoint=checkpoint)
