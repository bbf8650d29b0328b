"""On-disk embedding cache: one SQLite file per encoder configuration, rows keyed by content hash.

The file name carries the backend name and a fingerprint of every setting that changes its outputs, so
two configurations never share rows; the key of a row is the SHA-256 of the text or audio content. Rows
hold the float32 bytes exactly as computed, so a hit returns the same bytes as the computation.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np


def content_key(kind: str, payload: bytes) -> str:
    return hashlib.sha256(kind.encode() + b"\0" + payload).hexdigest()


class EmbeddingCache:
    def __init__(self, path: str | Path, dim: int, description: dict | None = None):
        self.path = Path(path)
        self.dim = dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: several processes (DDP ranks, notebooks) may share one cache file
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        if description is not None:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (json.dumps(description, sort_keys=True),))
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 900):  # SQLite caps the number of bound parameters
            chunk = unique[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = []
        for key, vector in items.items():
            vector = np.ascontiguousarray(vector, dtype=np.float32)
            if vector.shape != (self.dim,):
                raise ValueError(f"cache {self.path}: vector for {key[:12]} has shape {vector.shape}, expected ({self.dim},)")
            rows.append((key, vector.tobytes()))
        self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]

    def close(self) -> None:
        self._db.close()
