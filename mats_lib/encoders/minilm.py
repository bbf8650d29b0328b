"""all-MiniLM-L6-v2 sentence embeddings with plain transformers (mean pooling, as sentence-transformers)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..assets import minilm_path
from ..paths import offline_mode


class MiniLM:
    dim = 384

    def __init__(self, path: str | Path | None = None, max_length: int = 256):
        from transformers import AutoModel, AutoTokenizer

        offline_mode()
        path = Path(path) if path else minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
        self.max_length = max_length

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> np.ndarray:
        """[n] texts -> [n, 384] mean-pooled token states (not normalised)."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state  # [b, n, 384]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [b, n, 1]
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled.float().numpy()


@lru_cache(maxsize=2)
def shared_minilm(path: str | None = None) -> MiniLM:
    """One MiniLM per process: tagclap and miniclap share the text tower."""
    return MiniLM(path)
