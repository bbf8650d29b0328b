"""Per-step source sampling with the paper's ratio semantics, and seeded batching.

Each training step first draws one source with probability ratio / sum(ratios), then a batch from that
source alone (the authors' released training config). Every draw comes from an explicit ``numpy.random.Generator``.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np


class SourceSampler:
    def __init__(self, sources: Mapping[str, Sequence[dict]], ratios: Mapping[str, float], rng: np.random.Generator):
        unknown = set(ratios) - set(sources)
        if unknown:
            raise KeyError(f"ratios given for unknown source(s) {sorted(unknown)}; sources: {sorted(sources)}")
        self.names = [n for n in sorted(ratios) if ratios[n] > 0 and len(sources[n]) > 0]
        if not self.names:
            raise ValueError("no source has a positive ratio and records")
        weights = np.array([float(ratios[n]) for n in self.names])
        self.probabilities = weights / weights.sum()
        self.sources = sources
        self.rng = rng
        self._perm = {n: np.zeros(0, dtype=np.int64) for n in self.names}  # current epoch order per source
        self._cursor = {n: 0 for n in self.names}

    def _next_index(self, name: str) -> int:
        """Epochs over one source, each a fresh permutation: every record is seen before any repeats."""
        if self._cursor[name] >= len(self._perm[name]):
            self._perm[name] = self.rng.permutation(len(self.sources[name]))
            self._cursor[name] = 0
        self._cursor[name] += 1
        return int(self._perm[name][self._cursor[name] - 1])

    def draw_source(self) -> str:
        return self.names[int(self.rng.choice(len(self.names), p=self.probabilities))]

    def next_batch(self, batch_size: int) -> tuple[str, list[dict]]:
        name = self.draw_source()
        return name, [self.sources[name][self._next_index(name)] for _ in range(batch_size)]

    def state_dict(self) -> dict:
        """Everything needed to continue the same stream of batches after a restart."""
        return {"rng": self.rng.bit_generator.state, "perm": {n: p.tolist() for n, p in self._perm.items()},
                "cursor": dict(self._cursor)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self._perm = {n: np.asarray(p, dtype=np.int64) for n, p in state["perm"].items()}
        self._cursor = dict(state["cursor"])


def iterate_batches(records: Sequence, batch_size: int, rng: np.random.Generator | None = None,
                    drop_last: bool = False) -> Iterator[list]:
    """One pass over ``records`` in batches, shuffled by ``rng`` (in order when None)."""
    order = rng.permutation(len(records)) if rng is not None else np.arange(len(records))
    for start in range(0, len(records), batch_size):
        idx = order[start : start + batch_size]
        if drop_last and len(idx) < batch_size:
            return
        yield [records[i] for i in idx]
