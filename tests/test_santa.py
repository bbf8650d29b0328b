"""Golden tests of the modality transfers' maths."""
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mats_lib.modality_offset import offset_statistics
from mats_lib.config import SantaConfig
from mats_lib.santa import (MemoryBank, apply_transfer, build_memory_bank, retrieve, santa, shuffle_draws,
                            subsample_memory)


def bank_of(memory, labels, k):
    memory = F.normalize(memory, dim=-1)
    centroids = torch.stack([F.normalize(memory[torch.from_numpy(labels == c)].mean(0), dim=0) for c in range(k)])
    return MemoryBank.from_assignments(memory, centroids, labels)


@pytest.fixture
def bank():
    g = torch.Generator().manual_seed(0)
    return bank_of(torch.randn(40, 8, generator=g), np.arange(40) % 4, 4)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_lambda_zero_returns_the_normalised_audio(bank):
    a = torch.randn(5, 8) * 3
    out = santa(a, bank, SantaConfig(lam=0.0, retrieved=4, noise_variance=0.015), gen())
    torch.testing.assert_close(out, F.normalize(a, dim=-1))
    quirk = santa(a, bank, SantaConfig(lam=0.0, retrieved=4, normalize_first=False, noise_variance=0.015), gen())
    torch.testing.assert_close(quirk, a)  # the release mixes the raw, un-normalised vector


def test_lambda_one_single_text_no_noise_returns_the_nearest_memory_text(bank):
    a = torch.randn(6, 8)
    settings = SantaConfig(lam=1.0, retrieved=1, noise_variance=0.0, retrieval="exact")
    out = santa(a, bank, settings, gen())
    nearest = (F.normalize(a, dim=-1) @ bank.memory.T).argmax(1)
    torch.testing.assert_close(out, bank.memory[nearest])


def test_weights_sum_to_one():
    """With every retrieved text identical, the mix returns that text whatever the weights: they sum to 1."""
    text = F.normalize(torch.randn(1, 8), dim=-1)
    bank = bank_of(text.repeat(10, 1), np.zeros(10, dtype=int), 1)
    out = santa(torch.randn(3, 8), bank, SantaConfig(lam=1.0, retrieved=5, noise_variance=0.0), gen())
    torch.testing.assert_close(out, text.expand(3, -1))


def test_noise_on_retrieved_texts_keeps_unit_norm(bank):
    out = santa(torch.randn(4, 8), bank, SantaConfig(lam=1.0, retrieved=1, noise_variance=0.5), gen())
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))  # one noisy text, re-normalised


def test_small_clusters_are_padded_by_repetition():
    memory = F.normalize(torch.randn(7, 8), dim=-1)
    labels = np.array([0, 0, 0, 1, 1, 1, 1])  # cluster 0 has 3 members, fewer than L = 5
    bank = bank_of(memory, labels, 2)
    a = bank.centroids[0:1] + 0.01 * memory[0:1]
    index = retrieve(F.normalize(a, dim=-1), bank, 5, exact=False)
    assert set(index[0].tolist()) == {0, 1, 2}
    assert index[0, 3:].tolist() == index[0, :2].tolist()  # ranks 0, 1 repeated


def test_same_generator_same_output(bank):
    a = torch.randn(4, 8)
    s = SantaConfig(retrieved=4, noise_variance=0.1)
    torch.testing.assert_close(santa(a, bank, s, gen(3)), santa(a, bank, s, gen(3)))
    assert not torch.equal(santa(a, bank, s, gen(3)), santa(a, bank, s, gen(4)))


def test_transfers_by_name(bank):
    a = torch.randn(2, 8)
    s = SantaConfig(retrieved=3, noise_variance=0.01)
    assert torch.equal(apply_transfer("plain", a, bank=None, settings=s, generator=gen()), a)
    noisy = apply_transfer("added_noise", a, bank=None, settings=s, generator=gen())
    torch.testing.assert_close(noisy.norm(dim=1), torch.ones(2))
    mem = apply_transfer("memory", a, bank=bank, settings=s, generator=gen())
    assert torch.equal(mem, apply_transfer("memory", a, bank=bank, settings=s, generator=gen(9)))  # no noise
    with pytest.raises(ValueError, match="unknown transfer"):
        apply_transfer("magic", a, bank=bank, settings=s, generator=gen())
    with pytest.raises(ValueError, match="modality offset"):
        apply_transfer("mean_shift", a, bank=None, settings=s, generator=gen())


def test_mean_shift_carries_audio_onto_text_when_the_gap_is_one_vector():
    rng = np.random.default_rng(0)
    gap = np.zeros(8, dtype=np.float32)
    gap[0] = 0.6
    text = F.normalize(torch.from_numpy(rng.normal(size=(50, 8)).astype(np.float32)), dim=-1).numpy()
    audio = text - gap  # every pair differs by the same vector (before normalisation)
    offset, info = offset_statistics(audio, text)
    unit_audio = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    shifted = apply_transfer("mean_shift", torch.from_numpy(audio), bank=None, settings=SantaConfig(noise_variance=0.015),
                             generator=gen(), offset=torch.from_numpy(offset))
    torch.testing.assert_close(shifted.norm(dim=1), torch.ones(50))
    before = np.mean(np.sum(unit_audio * text, 1))
    after = float(torch.mean(torch.sum(shifted * torch.from_numpy(text), 1)))
    assert info["pairs"] == 50 and info["explained"] > 0.5 and after > before + 0.05


def test_offset_statistics_explain_nothing_when_the_differences_cancel():
    text = np.eye(4, dtype=np.float32)
    audio = np.roll(text, 1, axis=0)  # differences e_i - e_(i-1): they sum to zero
    offset, info = offset_statistics(audio, text)
    assert np.allclose(offset, 0, atol=1e-7) and abs(info["explained"]) < 1e-6 and info["norm"] < 1e-6


def test_kmeans_memory_is_seeded_and_subsample_quirk():
    x = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    a, b = build_memory_bank(x, 5, 10, seed=1), build_memory_bank(x, 5, 10, seed=1)
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.members, b.members)
    assert int(a.sizes.sum()) == 200
    clean = subsample_memory(100, 50, np.random.default_rng(0))
    assert len(set(clean.tolist())) == 50
    assert len(subsample_memory(10, 5172, np.random.default_rng(0))) == 10  # capped at the corpus


class ReplayedRandom(random.Random):
    """Python's random whose shuffle draws are given: the release's own call, fed our seeded draws."""

    def __init__(self, draws):
        super().__init__(0)
        self.draws = list(draws)

    def _randbelow(self, n):
        j = self.draws.pop(0)
        assert 0 <= j < n
        return j


def test_duplicating_subsample_is_the_release_shuffle_of_a_stacked_tensor():
    """The release stacks the memory texts, keeps the first M rows and calls random.shuffle on the tensor:
    swapping two row views copies one row over the other. Mirrored here on a tensor of row ids."""
    size = 2000
    draws = shuffle_draws(size, np.random.default_rng(7))
    stacked = torch.arange(size, dtype=torch.float32).unsqueeze(1).repeat(1, 3)  # [m, d], row i holds i
    ReplayedRandom(draws).shuffle(stacked)
    released = stacked[:, 0].long().numpy()
    ours = subsample_memory(10 * size, size, np.random.default_rng(7), duplicating=True)
    np.testing.assert_array_equal(ours, released)
    assert ours[0] == 0 and (ours <= np.arange(size)).all()  # only the first M texts, row 0 kept
    assert 0.45 < len(set(ours.tolist())) / size < 0.55  # about half unique (the paper's 5,172 -> ~2,590)
    clean = subsample_memory(10 * size, size, np.random.default_rng(7))
    assert len(set(clean.tolist())) == size and clean.max() >= size  # the intent: distinct, from the whole corpus
