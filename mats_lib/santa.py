"""Modality transfers applied to CLAP audio embeddings before the mapper: plain, added_noise, memory, Santa, and
mean_shift (not the paper's: the literature's training-free fix of the modality gap, compared beside them).

Axes: b batch, d embedding dim, m memory size, k clusters, s largest cluster, l retrieved texts.

Santa (the paper's inference-time transfer): for an audio embedding a, find the nearest k-means centroid of a memory of
CLAP text embeddings, take the l members of that cluster nearest to a (repeated when the cluster is
smaller), add fresh Gaussian noise to them, weight them by softmax(temperature * <a, m_i>) and mix:
    a' = (1 - lambda) a + lambda * sum_i w_i m_i
``memory`` is DRCap's memory-bank projection: exact retrieval over the whole memory, no noise, lambda 1.
``mean_shift`` adds the encoder's mean text-minus-audio offset (Liang et al. 2022; modality_offset.py).
Every function is pure: randomness comes from an explicit ``torch.Generator``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import SantaConfig
from .noise import noisy_unit


@dataclass
class MemoryBank:
    """Unit text embeddings [m, d], their k-means centroids [k, d] and padded member lists [k, s]."""

    memory: torch.Tensor  # [m, d]
    centroids: torch.Tensor  # [k, d]
    members: torch.Tensor  # [k, s] indices into memory, -1 = padding
    sizes: torch.Tensor  # [k]

    @classmethod
    def from_assignments(cls, memory: torch.Tensor, centroids: torch.Tensor, labels: np.ndarray) -> "MemoryBank":
        k = centroids.shape[0]
        groups = [np.flatnonzero(labels == c) for c in range(k)]
        s = max(1, max(len(g) for g in groups))
        members = torch.full((k, s), -1, dtype=torch.long)
        for c, g in enumerate(groups):
            members[c, : len(g)] = torch.from_numpy(g)
        sizes = torch.tensor([len(g) for g in groups])
        return cls(F.normalize(memory.float(), dim=-1), centroids.float(), members, sizes)


def shuffle_draws(size: int, rng: np.random.Generator) -> np.ndarray:
    """The draws of a Fisher-Yates shuffle of ``size`` rows, in its order: for i = size-1 down to 1, j uniform
    on 0..i (Python's ``random.shuffle``). ``draws[k]`` belongs to i = size-1-k."""
    return np.array([int(rng.integers(0, i + 1)) for i in range(size - 1, 0, -1)], dtype=np.int64)


def release_shuffled_rows(draws: np.ndarray, size: int) -> np.ndarray:
    """Which original row each row holds after the release's shuffle of a stacked tensor.

    ``random.shuffle`` swaps ``x[i], x[j] = x[j], x[i]``; on a tensor both sides are views of the same
    storage, so the swap copies row j over row i and leaves row j as it was. Going down from the last row,
    rows 0..i are still original when row i is written: row i ends as original row j_i (j_i <= i), row 0
    stays. About half of the rows are unique, and all come from the first ``size`` texts."""
    rows = np.arange(size)
    for k, j in enumerate(draws):
        rows[size - 1 - k] = j  # j <= i: that row is still original
    return rows


def subsample_memory(n_texts: int, size: int, rng: np.random.Generator, duplicating: bool = False) -> np.ndarray:
    """Indices of the memory texts: ``size`` distinct texts drawn at random (the paper's intent), or, with
    ``duplicating``, the release's memory: its first ``size`` texts after its aliasing shuffle."""
    size = min(size, n_texts)
    if duplicating:
        return release_shuffled_rows(shuffle_draws(size, rng), size)
    return np.sort(rng.choice(n_texts, size, replace=False))


def build_memory_bank(text_embeddings: np.ndarray, clusters: int, iterations: int, seed: int) -> MemoryBank:
    """k-means (scikit-learn, Lloyd, one seeded initialisation, ``iterations`` steps) over unit embeddings."""
    from sklearn.cluster import KMeans

    x = text_embeddings / np.linalg.norm(text_embeddings, axis=1, keepdims=True)
    k = min(clusters, len(x))
    km = KMeans(n_clusters=k, n_init=1, max_iter=iterations, algorithm="lloyd", random_state=seed, tol=0.0).fit(x)
    return MemoryBank.from_assignments(torch.from_numpy(x), torch.from_numpy(km.cluster_centers_), km.labels_)


def plain(a: torch.Tensor) -> torch.Tensor:  # [b, d] -> [b, d]
    """The audio embedding as is (the paper's raw and noise conditions, on their two models)."""
    return a


def added_noise(a: torch.Tensor, variance: float, generator: torch.Generator) -> torch.Tensor:  # [b, d] -> [b, d]
    """The training noise applied to the audio embedding at test time (normalise, add N(0, var), normalise):
    an extra transfer, not one of the paper's conditions."""
    return noisy_unit(a, variance, generator)


def retrieve(a: torch.Tensor, bank: MemoryBank, count: int, exact: bool) -> torch.Tensor:
    """Indices [b, l] of the ``count`` memory texts nearest to each unit a [b, d], repeated to fill l
    when the searched cluster is smaller."""
    if exact:
        sims = a @ bank.memory.T  # [b, m]
        order = sims.topk(min(count, sims.shape[1]), dim=1).indices  # [b, l']
        available = torch.full((a.shape[0],), order.shape[1])
    else:
        cluster = (a @ bank.centroids.T).argmax(1)  # [b]
        members = bank.members[cluster]  # [b, s]
        sims = torch.einsum("bd,bsd->bs", a, bank.memory[members.clamp(min=0)])  # [b, s]
        sims = sims.masked_fill(members < 0, float("-inf"))
        top = sims.topk(min(count, sims.shape[1]), dim=1).indices  # [b, l']
        order = torch.gather(members, 1, top)
        available = bank.sizes[cluster].clamp(max=order.shape[1])
    # pad by repetition of the ranked list: slot j takes rank j mod (number available)
    slots = torch.arange(count).unsqueeze(0) % available.clamp(min=1).unsqueeze(1)  # [b, l]
    return torch.gather(order, 1, slots)


def mix_with_memory(a: torch.Tensor, bank: MemoryBank, *, count: int, temperature: float, lam: float,
                    noise_variance: float, exact: bool, normalize_first: bool,
                    generator: torch.Generator | None) -> torch.Tensor:
    """The shared core of Santa and the memory bank: [b, d] -> [b, d]."""
    unit = F.normalize(a.float(), dim=-1)
    index = retrieve(unit, bank, count, exact)  # [b, l]
    texts = bank.memory[index]  # [b, l, d]
    if noise_variance > 0:
        texts = noisy_unit(texts.reshape(-1, texts.shape[-1]), noise_variance, generator).view_as(texts)
    weights = torch.softmax(temperature * torch.einsum("bd,bld->bl", unit, texts), dim=1)  # [b, l]
    t = torch.einsum("bl,bld->bd", weights, texts)  # [b, d]
    base = unit if normalize_first else a.float()
    return (1 - lam) * base + lam * t


def santa(a: torch.Tensor, bank: MemoryBank, settings: SantaConfig, generator: torch.Generator) -> torch.Tensor:
    """Santa (the config's ``santa`` section; its noise variance resolved: the run's own when it is null)."""
    if settings.noise_variance is None:
        raise ValueError("santa.noise_variance is null: resolve it to the run's noise variance first "
                         "(evaluation.resolved_santa)")
    return mix_with_memory(a, bank, count=settings.retrieved, temperature=settings.temperature, lam=settings.lam,
                           noise_variance=settings.noise_variance, exact=settings.retrieval == "exact",
                           normalize_first=settings.normalize_first, generator=generator)


def memory(a: torch.Tensor, bank: MemoryBank, settings: SantaConfig) -> torch.Tensor:
    """DRCap's projection: softmax-weighted nearest texts over the whole memory, lambda 1, no noise."""
    return mix_with_memory(a, bank, count=settings.retrieved, temperature=settings.temperature, lam=1.0,
                           noise_variance=0.0, exact=True, normalize_first=True, generator=None)


def mean_shift(a: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:  # [b, d], [d] -> [b, d]
    """The unit audio embedding moved by the mean text-minus-audio offset, back on the sphere the decoder
    was trained on."""
    return F.normalize(F.normalize(a.float(), dim=-1) + offset.float(), dim=-1)


TRANSFERS = ("plain", "added_noise", "memory", "santa", "mean_shift")
STOCHASTIC_TRANSFERS = ("added_noise", "santa")  # they draw noise: evaluated once per evaluation seed


def apply_transfer(name: str, a: torch.Tensor, *, bank: MemoryBank | None, settings: SantaConfig,
                   generator: torch.Generator, offset: torch.Tensor | None = None) -> torch.Tensor:
    if name == "plain":
        return plain(a)
    if name == "added_noise":
        if settings.noise_variance is None:
            raise ValueError("santa.noise_variance is null: resolve it to the run's noise variance first")
        return added_noise(a, settings.noise_variance, generator)
    if name == "mean_shift":
        if offset is None:
            raise ValueError("transfer 'mean_shift' needs the encoder's modality offset")
        return mean_shift(a, offset)
    if name in ("memory", "santa") and bank is None:
        raise ValueError(f"transfer {name!r} needs a memory bank")
    if name == "memory":
        return memory(a, bank, settings)
    if name == "santa":
        return santa(a, bank, settings, generator)
    raise ValueError(f"unknown transfer {name!r}; choose one of {', '.join(TRANSFERS)}")
