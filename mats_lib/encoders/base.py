"""The CLAP role: one interface for every audio-text encoder of the study.

A backend implements ``_embed_text_batch`` and ``_embed_audio_batch`` (waves already loaded at its
rate) and ``settings()``; this base class adds validation, audio loading, batching with progress bars,
deduplication and the on-disk cache. All embeddings are float32 and L2-normalised, shape [n, dim].
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from tqdm import tqdm  # text bars: tqdm.auto wants ipywidgets in a kernel and warns without it

from ..audio import load_audio
from ..code_keys import roots_key
from ..paths import cache_dir
from .cache import EmbeddingCache, content_key

Clip = Union[str, Path, np.ndarray]  # a file, or a mono float32 wave already at the encoder's rate


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)).astype(np.float32)


class AudioTextEncoder(ABC):
    name: str = "base"
    dim: int
    CHUNK_BATCHES = 16  # batches per cache commit: what a crash can lose
    sample_rate: int
    clip_seconds: float | None = None  # None: whole clip (pooled by the backend)
    min_seconds: float = 0.0

    def __init__(self, *, cache: bool | str | Path = True, batch_size: int = 64, progress: bool = True):
        self.batch_size = batch_size
        self.progress = progress
        self._cache_setting = cache
        self._cache: EmbeddingCache | None = None

    # ------------------------------------------------------------------ what a backend provides
    @abstractmethod
    def settings(self) -> dict:
        """Every setting that changes the outputs (JSON-able); it names the cache."""

    @abstractmethod
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray: ...

    @abstractmethod
    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray: ...

    # ------------------------------------------------------------------ public API
    def fingerprint(self) -> str:
        """Hash of the backend, its width, its settings and its code (the code key of its class: what it
        mentions, its base class and the audio loader included; another backend's code is not): the embedding
        cache's name and the encoder's part of every run and part key."""
        blob = json.dumps({"name": self.name, "dim": self.dim, **self.settings(),
                           "code": roots_key((type(self).__name__,))}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def cache(self) -> EmbeddingCache | None:
        if self._cache is None and self._cache_setting:
            folder = cache_dir() if self._cache_setting is True else Path(self._cache_setting)
            path = folder / f"{self.name}-{self.fingerprint()}.sqlite"
            self._cache = EmbeddingCache(path, self.dim, {"name": self.name, **self.settings()})
        return self._cache

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{self.name}.embed_text: item {i} is not a non-empty string: {text!r}")
        keys = [content_key("text", t.encode("utf-8")) for t in texts]
        return self._embed(keys, texts, self._compute_texts, "text")

    def embed_audio(self, clips: Sequence[Clip]) -> np.ndarray:
        clips = list(clips)
        keys = [self._audio_key(c) for c in clips]
        return self._embed(keys, clips, self._compute_clips, "audio")

    def raw_audio_norms(self, clips: Sequence[Clip]) -> np.ndarray:
        """[n] norms of the backend's audio outputs before L2 normalisation, computed afresh (not cached):
        the authors' release mixes Santa's audio side at this scale (``santa.normalize_first=false``)."""
        clips = list(clips)
        norms = [np.linalg.norm(self._embed_audio_batch([self.load_clip(c) for c in batch]), axis=1)
                 for batch in self._batches(clips, f"{self.name}: raw norms of {len(clips)} clips")]
        return np.concatenate(norms).astype(np.float32) if norms else np.zeros(0, dtype=np.float32)

    def load_clip(self, clip: Clip) -> np.ndarray:
        if isinstance(clip, np.ndarray):
            if clip.ndim != 1 or clip.size == 0 or not np.isfinite(clip).all():
                raise ValueError(f"{self.name}: an in-memory clip must be a non-empty finite 1-D wave")
            return clip.astype(np.float32, copy=False)
        return load_audio(clip, self.sample_rate, self.clip_seconds, min_seconds=self.min_seconds)

    # ------------------------------------------------------------------ machinery
    def _audio_key(self, clip: Clip) -> str:
        if isinstance(clip, np.ndarray):
            return content_key("wave", np.ascontiguousarray(clip, dtype=np.float32).tobytes())
        path = Path(clip)
        if not path.is_file():
            load_audio(path, self.sample_rate)  # raises the AudioError that names the file
        return content_key("file", path.read_bytes())

    def _embed(self, keys, items, compute, kind) -> np.ndarray:
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        found = self.cache.get_many(keys) if self.cache is not None else {}
        todo: dict[str, object] = {}
        for key, item in zip(keys, items):
            if key not in found and key not in todo:
                todo[key] = item
        if todo:
            pending = list(todo.items())
            if kind == "text":  # batches of similar length waste little on padding (2x faster on a large corpus)
                pending.sort(key=lambda pair: (len(pair[1]), pair[1]))
            # Committed to the cache chunk by chunk, so that a crash keeps what was computed; chunks are whole
            # batches of the one sorted order, so the batches (and the bytes) do not depend on the chunking.
            step = self.batch_size * self.CHUNK_BATCHES
            show = self.progress and len(pending) > self.batch_size
            with tqdm(total=len(pending), desc=f"{self.name}: embedding {len(pending)} {kind}", unit=kind,
                      disable=not show) as bar:
                for start in range(0, len(pending), step):
                    chunk = pending[start : start + step]
                    new = dict(zip((k for k, _ in chunk), compute([item for _, item in chunk])))
                    if self.cache is not None:
                        self.cache.put_many(new)
                    found.update(new)
                    bar.update(len(chunk))
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _batches(self, items: list, desc: str | None = None):
        starts = range(0, len(items), self.batch_size)
        show = desc is not None and self.progress and len(items) > self.batch_size
        for start in tqdm(starts, desc=desc, disable=not show, unit="batch"):
            yield items[start : start + self.batch_size]

    def _compute_texts(self, texts: list[str], desc: str | None = None) -> list[np.ndarray]:
        # Sorted by length (a no-op for the chunks of _embed, which come sorted): little padding per batch.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
        out = np.concatenate([self._embed_text_batch(batch) for batch in self._batches([texts[i] for i in order], desc)])
        result = np.empty_like(out)
        result[order] = out
        return list(l2_normalize(result))

    def _compute_clips(self, clips: list[Clip], desc: str | None = None) -> list[np.ndarray]:
        out = [self._embed_audio_batch([self.load_clip(c) for c in batch]) for batch in self._batches(clips, desc)]
        return list(l2_normalize(np.concatenate(out)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, settings={self.settings()})"
