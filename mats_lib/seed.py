"""One seed for every random source.

``seed_everything(seed)`` seeds the global Python, NumPy and torch states (for library code that uses
them implicitly) and returns explicit generators, derived from the same seed, for code that takes one.
Explicit generators are preferred: they make a function's randomness visible in its signature.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Generators:
    seed: int
    python: random.Random
    numpy: np.random.Generator
    torch: torch.Generator

    def child(self, stream: str) -> "Generators":
        """Independent generators for a named sub-task, stable whatever else draws from the parent."""
        return make_generators(derive_seed(self.seed, stream))


def derive_seed(seed: int, stream: str) -> int:
    """A 31-bit seed for ``stream``, a pure function of (seed, stream) (no use of Python's salted hash)."""
    ss = np.random.SeedSequence([seed, *stream.encode("utf-8")])
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)


def make_generators(seed: int) -> Generators:
    torch_gen = torch.Generator(device="cpu")
    torch_gen.manual_seed(seed)
    return Generators(seed=seed, python=random.Random(seed), numpy=np.random.default_rng(seed), torch=torch_gen)


def seed_everything(seed: int) -> Generators:
    """Seed Python, NumPy and torch globally and return explicit generators from the same seed."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return make_generators(seed)
