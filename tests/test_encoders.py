"""The CLAP-role encoders: determinism, the cache, the factory and the checkpoint adapters."""
import sys
import types

import numpy as np
import pytest
import torch

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


# ------------------------------------------------------------------ checkpoint adapters via stand-ins
class _TinyAudioTower(torch.nn.Module):
    def __init__(self, samples, dim):
        super().__init__()
        self.proj = torch.nn.Linear(8, dim)
        self.samples = samples

    def forward(self, x):  # [b, samples] -> ([b, dim], extras), like msclap's audio encoder
        assert x.shape[1] == self.samples, "the adapter must fix the clip length"
        feats = torch.stack([x.reshape(x.shape[0], 8, -1).abs().mean(-1)], 0)[0]
        return self.proj(feats), {}


def _fake_msclap_module():
    from tests.stand_ins import msclap  # the stand-in package the GPU tests also import as `msclap`

    return msclap


def _fake_laion_module(dim=512):
    class CLAP_Module:
        def __init__(self, enable_fusion, amodel, device):
            torch.manual_seed(0)
            self.tower = _TinyAudioTower(480000, dim)

        def load_ckpt(self, ckpt, verbose):
            self.ckpt = ckpt

        def get_text_embedding(self, texts, use_tensor):
            return np.stack([np.arange(dim, dtype=np.float32) + len(t) for t in texts])

        def get_audio_embedding_from_data(self, x, use_tensor):
            return self.tower(torch.from_numpy(x))[0].detach().numpy()

    return types.SimpleNamespace(CLAP_Module=CLAP_Module)


@pytest.mark.parametrize("backend,module,fake", [("msclap", "msclap", _fake_msclap_module),
                                                 ("laion", "laion_clap", _fake_laion_module)])
def test_checkpoint_adapters_with_stand_ins(backend, module, fake, tmp_path, tmp_cache, monkeypatch, write_wave):
    from tests.conftest import tone

    ckpt = tmp_path / "weights.pt"
    ckpt.write_bytes(b"stand-in")
    monkeypatch.setitem(sys.modules, module, fake())
    enc = create_encoder(backend, checkpoint=ckpt)
    assert isinstance(enc, AudioTextEncoder)
    stereo_96k = write_wave("clip.wav", tone(0.3, 96000, channels=2), 96000)  # resampled, averaged, tiled
    audio = enc.embed_audio([stereo_96k, stereo_96k])
    text = enc.embed_text(["a siren", "a dog barks loudly"])
    assert audio.shape == (2, enc.dim) and text.shape == (2, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    assert audio[0].tobytes() == audio[1].tobytes()
    assert enc.cache.path.name.startswith(backend)


@pytest.mark.parametrize("backend,module", [("msclap", "msclap"), ("laion", "laion_clap")])
def test_checkpoint_adapters_explain_what_is_missing(backend, module, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="needs checkpoint"):
        create_encoder(backend)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        create_encoder(backend, checkpoint=tmp_path / "absent.pth")
    ckpt = tmp_path / "w.pth"
    ckpt.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=r"pip install -e \.\[paper\]"):
        create_encoder(backend, checkpoint=ckpt)
