"""Damaged or foreign weight files: each refused with an error naming the file and the problem, never loaded."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from mats_lib.checkpoints import CheckpointError, load_torch_state, read_safetensors
from mats_lib.encoders.miniclap.heads import HeadsConfig, MiniClapHeads, load_heads, save_heads
from mats_lib.runs import load_run


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    return folder


def final_weights(run):
    return run / (run / "latest").read_text().strip() / "trainable.safetensors"


def test_a_truncated_checkpoint_is_named(run_copy):
    weights = final_weights(run_copy)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"{weights}: unreadable trained weights"):
        load_run(run_copy)


def test_a_checkpoint_of_another_shape_is_refused(run_copy):
    weights = final_weights(run_copy)
    state = load_file(str(weights))
    name = sorted(state)[0]
    state[name] = torch.zeros(*[s + 1 for s in state[name].shape])
    save_file(state, str(weights))
    with pytest.raises(CheckpointError, match=rf"{weights}: trainable weights do not fit this model .*wrong shape"):
        load_run(run_copy)


def test_a_checkpoint_of_another_model_is_refused(run_copy):
    weights = final_weights(run_copy)
    state = load_file(str(weights))
    save_file({**state, "mapper.other.weight": torch.zeros(3, 3)}, str(weights))
    with pytest.raises(CheckpointError, match=r"unexpected \['mapper.other.weight'\]"):
        load_run(run_copy)
    save_file({"mapper.other.weight": torch.zeros(3, 3)}, str(weights))
    with pytest.raises(CheckpointError, match=rf"{weights}: no mapper\.(net\.0|expand)\.weight: not the weights"):
        load_run(run_copy)


def test_a_truncated_training_state_is_named(run_copy):
    state = run_copy / (run_copy / "latest").read_text().strip() / "state.pt"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=rf"{state}: unreadable training state"):
        load_torch_state(state, "training state")


def test_heads_files_that_are_not_miniclap_heads_are_refused(tmp_path):
    heads = MiniClapHeads(HeadsConfig(hidden=8))
    heads.support = torch.zeros(4, heads.support.shape[1])
    good = tmp_path / "heads.safetensors"
    save_heads(heads, good, {})
    load_heads(good)  # the file as written loads

    other = tmp_path / "weights.safetensors"  # e.g. a run's trained weights passed as heads
    save_file({"mapper.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(CheckpointError, match=rf"{other}: no heads_config in its metadata"):
        load_heads(other)

    tensors, metadata = read_safetensors(good, "heads")
    wider = {**tensors, "audio.inner.weight": torch.zeros(16, tensors["audio.inner.weight"].shape[1])}
    mismatched = tmp_path / "mismatched.safetensors"  # its config says hidden=8, its tensors say 16
    save_file(wider, str(mismatched), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"MiniCLAP heads do not fit this model .*wrong shape"):
        load_heads(mismatched)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:64])
    with pytest.raises(CheckpointError, match=rf"{truncated}: unreadable MiniCLAP heads"):
        load_heads(truncated)


def test_a_memory_bank_of_another_encoder_is_refused(tmp_cache):
    from mats_lib.encoders import create_encoder
    from mats_lib.evaluation import memory_bank
    from mats_lib.config import SantaConfig

    encoder = create_encoder("tagclap", progress=False)
    texts = [f"a dog barks {i} times" for i in range(12)]
    settings = SantaConfig(memory_size=12, clusters=3, lloyd_iterations=2, noise_variance=0.015)
    bank = memory_bank(encoder, texts, settings, seed=0)
    (path,) = tmp_cache.glob("memory-tagclap-*.safetensors")
    assert torch.equal(memory_bank(encoder, texts, settings, seed=0).memory, bank.memory)  # cached, reused

    tensors, metadata = read_safetensors(path, "bank")
    save_file(tensors, str(path))  # a bank of older code, without its encoder and key: rebuilt, not refused
    assert torch.equal(memory_bank(encoder, texts, settings, seed=0).memory, bank.memory)
    assert read_safetensors(path, "bank")[1] == metadata

    save_file(tensors, str(path), metadata={**metadata, "encoder": "another-encoder"})
    with pytest.raises(CheckpointError, match=rf"{path}: memory bank built for encoder 'another-encoder'"):
        memory_bank(encoder, texts, settings, seed=0)

    save_file({**tensors, "memory": torch.zeros(12, 7)}, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"not the 384-d bank of tagclap"):
        memory_bank(encoder, texts, settings, seed=0)
    json.dumps(metadata)  # the metadata is plain strings
