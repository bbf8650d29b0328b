"""Zero-shot classification and cross-modal retrieval on unit embeddings (cosine = dot product)."""
from __future__ import annotations

import numpy as np


def zero_shot_predictions(audio: np.ndarray, class_text: np.ndarray) -> np.ndarray:
    """[n, d] audio x [c, d] class-prompt embeddings -> [n] index of the best class."""
    return (audio @ class_text.T).argmax(1)


def recall_at_k(queries: np.ndarray, gallery: np.ndarray, k: int) -> float:
    """Fraction of queries i whose paired gallery item i is among the k most similar (pairs share an index)."""
    scores = queries @ gallery.T  # [q, g]
    target = scores[np.arange(len(queries)), np.arange(len(queries))][:, None]
    rank = (scores > target).sum(1)  # ties count in the query's favour
    return float((rank < k).mean())
