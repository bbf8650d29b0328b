"""miniclap: tagclap plus contrastively trained residual heads, score-ensembled with tagclap.

Frozen towers (YAMNet, MiniLM) as in tagclap; small heads trained with symmetric InfoNCE on the
audio-train split of MiniAudio (``make miniclap``, see ``training.py``); at inference
score = (1-w) cos_tagclap + w cos_heads, one 768-d unit vector per item (``heads.ensemble``).
w = 0 gives tagclap's scores exactly; untrained heads give them for any w. With the distance gate (sigma)
the heads' weight fades for audio far from their training audio, which then gets tagclap's ranking.

    enc = create_encoder("miniclap")                 # build/miniclap/heads-seed0.safetensors, its chosen w
    enc = create_encoder("miniclap", w=0.5, sigma=None, checkpoint="other-heads.safetensors")  # no gate
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.special import expit

from ...assets import AssetMissingError
from ...paths import build_dir
from ..base import l2_normalize
from ..minilm import shared_minilm
from .heads import (FEATURE_DIM, POOLING, TAG_DIM, MiniClapHeads, check_ensemble, ensemble,
                             load_heads, pool_features)
from ...provenance import file_sha256
from ..tagclap import TagClap, pool_patches
from ..yamnet import shared_yamnet


def default_heads_path(seed: int = 0) -> Path:
    return build_dir() / "miniclap" / f"heads-seed{seed}.safetensors"


class FrozenTowers(TagClap):
    """The audio features MiniCLAP's heads read ([n, 2432], see heads.py), through the encoder cache.

    Not a joint space: ``embed_audio`` returns raw features (not normalised); there is no text side.
    """

    name = "miniclap-towers"
    dim = FEATURE_DIM

    def settings(self) -> dict:
        return {**super().settings(), "features": POOLING}

    def _embed_text_batch(self, texts):
        raise NotImplementedError("FrozenTowers has no text side; use MiniLM directly")

    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        outputs = [shared_yamnet()(w) for w in waves]  # (logits [p, 521], embeddings [p, 1024]) each
        probs = np.stack([pool_patches(expit(logits), self.pooling) for logits, _ in outputs])  # [b, 521]
        tag = l2_normalize(probs @ self.class_matrix)  # [b, 384], tagclap's audio embedding
        return np.stack([pool_features(t, emb) for t, (_, emb) in zip(tag, outputs)])

    def _compute_clips(self, clips, desc=None):  # features keep their scale: no normalisation here
        out = [self._embed_audio_batch([self.load_clip(c) for c in batch]) for batch in self._batches(clips, desc)]
        return list(np.concatenate(out).astype(np.float32))


class MiniClap(TagClap):
    name = "miniclap"
    dim = 2 * TAG_DIM

    def __init__(self, *, checkpoint: str | Path | None = None, w: float | None = None,
                 sigma: float | str | None = "default", **kwargs):
        """checkpoint: heads file (default build/miniclap/heads-seed0.safetensors, from `make miniclap`);
        w: ensemble weight of the heads, sigma: width of their distance gate (None: no gate); both default to
        the values chosen when the heads were built."""
        super().__init__(**kwargs)
        self.heads_path = Path(checkpoint) if checkpoint else default_heads_path()
        if not self.heads_path.is_file():
            raise AssetMissingError("miniclap heads file", self.heads_path, target="miniclap")
        self.heads, self.heads_info = load_heads(self.heads_path)
        self.heads_sha256 = file_sha256(self.heads_path)
        self.w = float(self.heads_info.get("default_w", 0.25) if w is None else w)
        sigma = self.heads_info.get("default_sigma") if sigma == "default" else sigma
        self.sigma = None if sigma is None else float(sigma)
        check_ensemble(self.w, self.sigma)  # validate early
        self.towers = FrozenTowers(cache=self._cache_setting, batch_size=self.batch_size, progress=False,
                                   class_prompt=self.class_prompt, pooling=self.pooling, max_seconds=self.max_seconds)

    def settings(self) -> dict:
        return {**super().settings(), "features": POOLING, "heads_sha256": self.heads_sha256, "w": self.w,
                "gate_sigma": self.sigma}

    @torch.inference_mode()
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        unit = l2_normalize(shared_minilm()(texts))  # [b, 384], tagclap's text embedding
        head = self.heads.embed_text(torch.from_numpy(unit)).numpy()
        return ensemble(unit, head, self.w)

    @torch.inference_mode()
    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        features = self.towers.embed_audio(waves)  # [b, 2432], cached by wave content
        return embed_features(self.heads, features, self.w, self.sigma)

    def embed_features(self, features: np.ndarray, w: float | None = None) -> np.ndarray:
        """Audio embeddings straight from tower features [n, 2432] (training and reports)."""
        return embed_features(self.heads, features, self.w if w is None else w, self.sigma)


@torch.inference_mode()
def embed_features(heads: MiniClapHeads, features: np.ndarray, w: float, sigma: float | None = None) -> np.ndarray:
    """[n, 2432] tower features -> [n, 768] ensemble audio embeddings (sigma: the distance gate, None: none)."""
    check_ensemble(w, sigma)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    gate = None if sigma is None else heads.gate(x, sigma).numpy()
    return ensemble(features[:, :TAG_DIM], heads.embed_audio(x).numpy(), w, gate)


@torch.inference_mode()
def embed_unit_text(heads: MiniClapHeads, unit_text: np.ndarray, w: float) -> np.ndarray:
    """[n, 384] unit MiniLM (tagclap text) embeddings -> [n, 768] ensemble text embeddings."""
    head = heads.embed_text(torch.from_numpy(np.ascontiguousarray(unit_text, dtype=np.float32))).numpy()
    return ensemble(unit_text, head, w)
