"""miniclap: the loss, step 0 == tagclap, the ensemble endpoints, files, determinism, and clean training pairs."""
import json
import math

import numpy as np
import pytest
import torch

from mats_lib.assets import AssetMissingError, list_source_clips
from mats_lib.encoders import create_encoder
from mats_lib.encoders.miniclap.encoder import FrozenTowers, embed_features, embed_unit_text
from mats_lib.encoders.miniclap.heads import (FEATURE_DIM, TAG_DIM, HeadsConfig, MiniClapHeads, contrastive_loss,
                                              ensemble, load_heads, pool_features, save_heads)
from mats_lib.provenance import file_sha256
from mats_lib.encoders.miniclap.pairs import AudioItems, label_groups, training_items
from mats_lib.encoders.miniclap.fit import TextTable, TrainSettings, train_heads
from mats_lib.paths import data_dir
from mats_lib.seed import make_generators

TINY = TrainSettings(batch_size=8, clip_repeats=2, groups=2, mixtures_per_group=3)
SMALL_HEADS = HeadsConfig(hidden=16)


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_contrastive_loss_by_hand():
    eye = torch.eye(2)
    # each row: logits (1, 0); softmax mass on the diagonal e/(e+1) -> loss log(1 + 1/e), both directions alike
    assert contrastive_loss(eye, eye, torch.tensor([0, 1]), 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    # the same caption twice: both columns are positives, all the mass is on positives
    assert contrastive_loss(eye, eye, torch.tensor([5, 5]), 1.0).item() == pytest.approx(0.0, abs=1e-6)
    # three items, 0 and 1 share a caption: row 0 has logits (1, 0, 0) with positives {0, 1}:
    # -log((e + 1) / (e + 2)); row 2: -log(e / (e + 2)); row 1 (logits 0,1,0): -log((1 + e)/(e + 2))
    eye3 = torch.eye(3)
    e = math.e
    expected = (2 * -math.log((e + 1) / (e + 2)) - math.log(e / (e + 2))) / 3
    assert contrastive_loss(eye3, eye3, torch.tensor([0, 0, 1]), 1.0).item() == pytest.approx(expected, abs=1e-6)


def test_ensemble_endpoints_and_norm():
    rng = np.random.default_rng(0)
    ta, tt, ha, ht = (unit(rng.standard_normal((4, TAG_DIM))).astype(np.float32) for _ in range(4))
    for w, expected in ((0.0, ta @ tt.T), (1.0, ha @ ht.T), (0.3, 0.7 * ta @ tt.T + 0.3 * ha @ ht.T)):
        a, t = ensemble(ta, ha, w), ensemble(tt, ht, w)
        np.testing.assert_allclose(a @ t.T, expected, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="w must be in"):
        ensemble(ta, ha, 1.5)


def test_ramp_pooling_tells_order():
    x, y = np.zeros((3, 1024), np.float32), np.zeros((3, 1024), np.float32)
    x[:, 0], y[:, 1] = 1, 1
    tag = np.zeros(TAG_DIM, np.float32)
    xy, yx = pool_features(tag, np.concatenate([x, y])), pool_features(tag, np.concatenate([y, x]))
    assert np.allclose(xy[TAG_DIM:TAG_DIM + 1024], yx[TAG_DIM:TAG_DIM + 1024])  # the means agree
    assert not np.allclose(xy, yx)


@pytest.fixture(scope="module")
def tiny_items():
    """Random audio features (tag part unit-norm) with captions; keys repeat so positives occur."""
    rng = np.random.default_rng(1)
    n = 24
    feats = rng.standard_normal((n, FEATURE_DIM)).astype(np.float32)
    feats[:, :TAG_DIM] = unit(feats[:, :TAG_DIM])
    names = ["a dog barks", "rain falls", "a bell rings", "a car passes", "a man speaks", "birds sing"]
    caps = [[f"{names[i % 6]}.", f"The sound of {names[i % 6]}."] if i < 12 else [f"{names[i % 6]}, then {names[(i + 1) % 6]}."]
            for i in range(n)]
    items = AudioItems(ids=[str(i) for i in range(n)], kind=["clip" if i < 12 else "mixture" for i in range(n)],
                       captions=caps, key=[c[0] for c in caps], labels=[[names[i % 6]] for i in range(n)],
                       sources=[["x"]] * n, members=[[str(i)] for i in range(n)])
    items.features = feats
    return items, TextTable([c for cs in caps for c in cs])


def test_step_zero_heads_are_tagclap(tiny_items):
    items, text = tiny_items
    heads = train_heads(items, text, 0, seed=0, settings=TINY, heads_config=SMALL_HEADS)
    tag_audio, tag_text = items.features[:, :TAG_DIM], text.matrix
    for w in (0.0, 0.5, 1.0):
        scores = embed_features(heads, items.features, w) @ embed_unit_text(heads, text.matrix, w).T
        np.testing.assert_allclose(scores, tag_audio @ tag_text.T, atol=1e-5)


def test_training_moves_the_heads_and_is_byte_identical(tiny_items, tmp_path):
    items, text = tiny_items
    losses = []

    def watch(step, heads):
        with torch.no_grad():
            a = heads.embed_audio(torch.from_numpy(items.features))
            t = heads.embed_text(torch.from_numpy(text([c[0] for c in items.captions])))
            keys = torch.tensor([sorted(set(items.key)).index(k) for k in items.key])
            losses.append(contrastive_loss(a, t, keys, heads.scale()).item())

    first = train_heads(items, text, 30, seed=3, settings=TINY, heads_config=SMALL_HEADS, on_step=watch)
    assert losses[-1] < losses[0]
    second = train_heads(items, text, 30, seed=3, settings=TINY, heads_config=SMALL_HEADS)
    digests = [save_heads(h, tmp_path / f"h{i}.safetensors", {"seed": 3}) for i, h in enumerate((first, second))]
    assert digests[0] == digests[1]
    other = train_heads(items, text, 30, seed=4, settings=TINY, heads_config=SMALL_HEADS)
    assert save_heads(other, tmp_path / "h2.safetensors", {"seed": 4}) != digests[0]


def test_save_load_round_trip(tiny_items, tmp_path):
    items, text = tiny_items
    heads = train_heads(items, text, 5, seed=0, settings=TINY, heads_config=SMALL_HEADS)
    path = tmp_path / "heads.safetensors"
    digest = save_heads(heads, path, {"default_w": 0.3, "steps": 5})
    loaded, info = load_heads(path)
    assert loaded.cfg == SMALL_HEADS and info["default_w"] == 0.3 and info["sha256"] == digest == file_sha256(path)
    for name, value in heads.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name
    np.testing.assert_array_equal(embed_features(heads, items.features, 0.3), embed_features(loaded, items.features, 0.3))


def test_distance_gate_keeps_training_audio_and_gives_far_audio_tagclaps_ranking(tiny_items, tmp_path):
    items, text = tiny_items
    heads = train_heads(items, text, 30, seed=0, settings=TINY, heads_config=SMALL_HEADS)
    texts = embed_unit_text(heads, text.matrix, 0.4)
    # the training items themselves: distance 0, gate 1, the ungated embedding
    np.testing.assert_allclose(heads.distance(torch.from_numpy(items.features)).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(embed_features(heads, items.features, 0.4, sigma=0.1), embed_features(heads, items.features, 0.4),
                               atol=1e-5)
    # audio whose YAMNet part points away from every training item: the heads' block is gated off and
    # the texts are scored by tagclap alone (scaled by sqrt(1-w), one factor for every text)
    far = items.features.copy()
    far[:, TAG_DIM:TAG_DIM + 1024] = -items.features[:, TAG_DIM:TAG_DIM + 1024].mean(0)
    assert heads.distance(torch.from_numpy(far)).min().item() > 0.5
    gated = embed_features(heads, far, 0.4, sigma=0.1)
    np.testing.assert_allclose(np.linalg.norm(gated, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(gated @ texts.T, np.sqrt(0.6) * far[:, :TAG_DIM] @ text.matrix.T, atol=1e-5)
    assert not np.allclose(embed_features(heads, far, 0.4) @ texts.T, np.sqrt(0.6) * far[:, :TAG_DIM] @ text.matrix.T,
                           atol=1e-3)  # without the gate the heads do move it
    with pytest.raises(ValueError, match="w = 1"):
        embed_features(heads, far, 1.0, sigma=0.1)
    with pytest.raises(ValueError, match="sigma must be positive"):
        embed_features(heads, far, 0.4, sigma=0.0)
    with pytest.raises(ValueError, match="no training items"):
        MiniClapHeads(SMALL_HEADS).distance(torch.from_numpy(far))
    # the gate's training items travel with the heads file; a file without them names the rebuild
    path = tmp_path / "heads.safetensors"
    save_heads(heads, path, {"default_w": 0.4, "default_sigma": 0.1})
    enc = create_encoder("miniclap", checkpoint=path, cache=False)
    assert (enc.w, enc.sigma) == (0.4, 0.1) and create_encoder("miniclap", checkpoint=path, sigma=None).sigma is None
    assert enc.fingerprint() != create_encoder("miniclap", checkpoint=path, sigma=None).fingerprint()
    np.testing.assert_allclose(enc.embed_features(far), gated, atol=1e-6)
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    del state["support"]
    save_file(state, str(path), metadata={"heads_config": json.dumps({"hidden": 16, "init_temperature": 0.05})})
    with pytest.raises(ValueError, match="make miniclap"):
        load_heads(path)


@pytest.fixture(scope="module")
def animal_paths():
    return [c.path for c in list_source_clips("animals")][:3]


def test_encoder_matches_tagclap_at_w0_and_before_training(tmp_path, tmp_cache, animal_paths):
    fresh = tmp_path / "fresh.safetensors"
    save_heads(MiniClapHeads(SMALL_HEADS), fresh, {"default_w": 0.25})
    rng = np.random.default_rng(0)
    trained = MiniClapHeads(SMALL_HEADS)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.1 * torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    moved = tmp_path / "moved.safetensors"
    save_heads(trained, moved, {"default_w": 0.25})
    texts = ["the sound of a cow", "the sound of a dog"]
    tag = create_encoder("tagclap", cache=False)
    expected = tag.embed_audio(animal_paths) @ tag.embed_text(texts).T
    for path, w in ((fresh, 0.25), (fresh, 1.0), (moved, 0.0)):
        enc = create_encoder("miniclap", checkpoint=path, w=w)
        assert enc.dim == 768 and enc.settings()["w"] == w
        np.testing.assert_allclose(enc.embed_audio(animal_paths) @ enc.embed_text(texts).T, expected, atol=1e-5)
    moved_enc = create_encoder("miniclap", checkpoint=moved)
    assert moved_enc.w == 0.25 and moved_enc.fingerprint() != create_encoder("miniclap", checkpoint=fresh).fingerprint()
    assert not np.allclose(moved_enc.embed_audio(animal_paths) @ moved_enc.embed_text(texts).T, expected, atol=1e-3)


def test_missing_heads_name_the_make_target(tmp_path):
    with pytest.raises(AssetMissingError, match="make miniclap"):
        create_encoder("miniclap", checkpoint=tmp_path / "nope.safetensors")


def _clips():
    path = data_dir() / "miniaudio" / "clips.json"
    if not path.is_file():
        pytest.skip("MiniAudio not built (make data)")
    return json.loads(path.read_text())


def test_training_pairs_never_hold_an_eval_clip(tmp_cache):
    clips = _clips()
    train = [c for c in clips if c["split"] == "train"]
    eval_ids = {c["clip_id"] for c in clips if c["split"] == "eval"}
    with pytest.raises(ValueError, match="audio-train split only"):
        training_items(data_dir() / "miniaudio", train[:5] + [c for c in clips if c["split"] == "eval"][:1], {}, 1,
                       make_generators(0), None)
    small = [c for c in train if c["source"] in ("opensfx", "animals")]  # short clips: a fast check
    groups = label_groups([c["label"] for c in small], 2, np.random.default_rng(0))
    items = training_items(data_dir() / "miniaudio", small, groups, 3, make_generators(0), FrozenTowers(progress=False))
    used = {m for ms in items.members for m in ms}
    assert used and not used & eval_ids
    assert items.kind.count("mixture") == 6 and all(2 <= len(ms) <= 3 for ms, k in zip(items.members, items.kind) if k == "mixture")
    for ms, k in zip(items.labels, items.kind):  # a mixture stays inside one class-disjoint group
        assert len({groups[l] for l in ms}) == 1


def test_built_heads_were_trained_on_audio_train_clips_only(tmp_path, tmp_cache):
    """The real build path (pairs, fold search, final heads, sidecar) at a small size: `make test` does not
    train the real heads, `make miniclap` does."""
    from mats_lib.encoders.miniclap.fit import build_heads

    clips = _clips()
    path = build_heads(seed=0, out=tmp_path / "heads.safetensors", settings=TrainSettings(mixtures_per_group=2),
                       heads_config=SMALL_HEADS)
    info = json.loads(path.with_suffix(".json").read_text())
    split = {c["clip_id"]: c["split"] for c in clips}
    assert info["train_clip_ids"] and all(split[c] == "train" for c in info["train_clip_ids"])
    assert info["sha256"] == file_sha256(path)
    table = info["selection"]["table"]
    chosen = [r for r in table if (r["steps"], r["w"], r["sigma"]) == (info["steps"], info["default_w"], info["default_sigma"])]
    assert len(chosen) == 1 and chosen[0]["guard_pass"]  # the guarded rule never picks a setting its gate refuses
    assert info["selection"]["guard_sources"] and all(n >= 5 for n in info["selection"]["guard_clips"].values())
    passing = [r for r in table if r["guard_pass"]]
    assert chosen[0]["score"] >= max(r["score"] for r in passing) - 0.005
    assert any(r["w"] == 0.0 and r["guard_pass"] for r in table)  # tagclap passes its own gate


def test_the_study_switches_encoder_by_one_setting(tmp_path, tmp_cache):
    from mats_lib.config import load_config

    heads = tmp_path / "heads.safetensors"
    save_heads(MiniClapHeads(SMALL_HEADS), heads, {"default_w": 0.25})
    cfg = load_config("mini", overrides={"encoder.name": "miniclap", "encoder.checkpoint": str(heads)})
    # the call training.py and inference.py make for every backend but tagclap
    enc = create_encoder(cfg.encoder.name, cache=False, progress=False, checkpoint=cfg.encoder.checkpoint)
    assert enc.name == "miniclap" and enc.dim == 768 and enc.heads_path == heads
