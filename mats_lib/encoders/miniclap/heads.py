"""MiniCLAP's pieces: audio features from the frozen towers, residual heads, the contrastive loss, the ensemble.

Axes: b batch, p patches, d feature. Shapes in comments.

audio features x = [tagclap unit vector (384) | YAMNet embedding, mean over patches (1024)
                    | YAMNet embedding, ramp-weighted over patches (1024)]
The ramp weights go from -1 (first patch) to +1 (last), so "X then Y" and "Y then X" get opposite ramp
features while their means agree: mean pooling alone cannot order events (prototype_findings.md).

heads: a(x) = normalise(tag(x) + MLP_a(standardise(x)));  t(u) = normalise(u + MLP_t(u)), u = unit MiniLM.
The last layer of each MLP starts at zero, so before training a == tagclap audio and t == tagclap text.

ensemble: e = [sqrt(1-w) tagclap | sqrt(w) head], so e_audio . e_text = (1-w) cos_tagclap + w cos_heads
with one unit vector per item (dimension 768 whatever w is).

distance gate (optional, sigma): the audio side's head block is scaled by g = exp(-(d / sigma)^2), d = 1 - the
largest cosine between the clip's mean YAMNet embedding and those of the heads' training items (``support``),
and the vector renormalised. Per audio clip, the texts are then ranked by (1-w) cos_tagclap + w g cos_heads:
audio like the training audio gets the trained heads, audio far from all of it (another source) gets
tagclap's ranking back, since heads trained on a few hundred clips cannot improve on audio they never saw.
The gate scales the whole head block, so the heads' text side drops out of far clips' scores as well; a gate
on the audio residual alone left the text residual moving every out-of-domain label (README, MiniCLAP).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...provenance import file_sha256

TAG_DIM = 384  # tagclap / MiniLM space
YAMNET_DIM = 1024
FEATURE_DIM = TAG_DIM + 2 * YAMNET_DIM
POOLING = "tag-mean+yamnet-mean+ramp"  # names the feature layout above; part of every settings()


def ramp_weights(p: int) -> np.ndarray:
    """[p] weights from -1 (first patch) to +1 (last); zeros for a single patch."""
    return np.linspace(-1.0, 1.0, p, dtype=np.float32) if p > 1 else np.zeros(1, dtype=np.float32)


def pool_features(tag_unit: np.ndarray, patch_embeddings: np.ndarray) -> np.ndarray:
    """tagclap unit vector [384] + YAMNet patch embeddings [p, 1024] -> audio features [2432]."""
    mean = patch_embeddings.mean(0)  # [1024]
    ramp = (ramp_weights(len(patch_embeddings))[:, None] * patch_embeddings).mean(0)  # [1024], order-aware
    return np.concatenate([tag_unit, mean, ramp]).astype(np.float32)


@dataclass
class HeadsConfig:
    hidden: int = 512
    """Width of each head's hidden layer [open]; two small MLPs, ~1.6M parameters in all."""
    init_temperature: float = 0.05
    """Initial softmax temperature of the InfoNCE loss; it is learned (as log 1/T, capped at T = 0.01)."""


class ResidualHead(nn.Module):
    """x [b, d_in] -> base [b, 384] + MLP(x); the last layer is zero-initialised (identity at step 0)."""

    def __init__(self, d_in: int, hidden: int):
        super().__init__()
        self.inner = nn.Linear(d_in, hidden)
        self.outer = nn.Linear(hidden, TAG_DIM)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        return base + self.outer(F.gelu(self.inner(x)))


class MiniClapHeads(nn.Module):
    def __init__(self, cfg: HeadsConfig = HeadsConfig()):
        super().__init__()
        self.cfg = cfg
        self.audio = ResidualHead(FEATURE_DIM, cfg.hidden)
        self.text = ResidualHead(TAG_DIM, cfg.hidden)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / cfg.init_temperature))))
        # standardisation of the audio features, fitted on the training audio (set_feature_stats)
        self.register_buffer("feature_mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("feature_std", torch.ones(FEATURE_DIM))
        # unit mean-YAMNet embeddings of the training items [n, 1024]: the distance gate's reference
        self.register_buffer("support", torch.zeros(0, YAMNET_DIM))

    def set_feature_stats(self, features: torch.Tensor) -> None:
        """Standardisation and the gate's reference, from the training items' features [n, 2432]."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp(min=1e-4))
        self.support = F.normalize(mean_yamnet(features), dim=1).contiguous()

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """[b, 2432] -> [b] cosine distance of each clip's mean YAMNet embedding to the nearest training item."""
        if len(self.support) == 0:
            raise ValueError("these heads hold no training items (support); they cannot gate by distance")
        unit = F.normalize(mean_yamnet(features), dim=1)  # [b, 1024]
        return (1 - (unit @ self.support.T).max(1).values).clamp(min=0)

    def gate(self, features: torch.Tensor, sigma: float) -> torch.Tensor:
        """[b, 2432] -> [b] weights of the head block in [0, 1]: exp(-(distance / sigma)^2)."""
        return torch.exp(-((self.distance(features) / sigma) ** 2))

    def embed_audio(self, features: torch.Tensor) -> torch.Tensor:
        """[b, 2432] features -> [b, 384] unit head embeddings."""
        tag = features[:, :TAG_DIM]
        return F.normalize(self.audio((features - self.feature_mean) / self.feature_std, tag), dim=-1)

    def embed_text(self, unit_text: torch.Tensor) -> torch.Tensor:
        """[b, 384] unit MiniLM embeddings -> [b, 384] unit head embeddings."""
        return F.normalize(self.text(unit_text, unit_text), dim=-1)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=float(np.log(100.0))).exp()


def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, keys: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of pairs; items with the same key (caption) are all positives.

    audio, text [b, d] unit vectors, pair i = (audio[i], text[i]); keys [b] ints. Per row: -log of the
    softmax mass on the positives, averaged over rows, then over the two directions.
    """
    logits = scale * audio @ text.T  # [b, b]
    positive = keys[:, None] == keys[None, :]  # [b, b], symmetric, diagonal true
    masked = logits.masked_fill(~positive, float("-inf"))
    audio_to_text = (torch.logsumexp(logits, 1) - torch.logsumexp(masked, 1)).mean()
    text_to_audio = (torch.logsumexp(logits, 0) - torch.logsumexp(masked, 0)).mean()
    return (audio_to_text + text_to_audio) / 2


def mean_yamnet(features: torch.Tensor) -> torch.Tensor:
    """[b, 2432] audio features -> [b, 1024] their mean-pooled YAMNet part."""
    return features[:, TAG_DIM : TAG_DIM + YAMNET_DIM]


def check_ensemble(w: float, sigma: float | None = None) -> None:
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"miniclap ensemble weight w must be in [0, 1], got {w}")
    if sigma is not None and not sigma > 0:
        raise ValueError(f"miniclap gate sigma must be positive (or None for no gate), got {sigma}")
    if sigma is not None and w == 1.0:
        raise ValueError("the miniclap distance gate falls back to tagclap's block, which w = 1 leaves out; "
                         "use w < 1 or no gate (sigma None)")


def ensemble(tag_unit: np.ndarray, head_unit: np.ndarray, w: float, gate: np.ndarray | None = None) -> np.ndarray:
    """[n, 384] tagclap + [n, 384] head unit vectors -> [n, 768] unit vectors scoring (1-w) cos_t + w cos_h.

    gate [n] (audio side only): the head block is scaled by it and the vector renormalised, so one clip
    ranks texts by (1-w) cos_t + w gate cos_h (see the module notes)."""
    check_ensemble(w)
    head_weight = np.sqrt(w) * (1.0 if gate is None else np.asarray(gate, dtype=np.float64)[:, None])
    out = np.concatenate([np.sqrt(1.0 - w) * tag_unit, head_weight * head_unit], axis=1)
    if gate is not None:
        out = out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------- files
def save_heads(heads: MiniClapHeads, path: str | Path, meta: dict) -> str:
    """Write the heads (safetensors) and ``<path>.json`` (config + ``meta``); returns the file's SHA-256."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in sorted(heads.state_dict().items())}
    save_file(state, str(path), metadata={"heads_config": json.dumps(asdict(heads.cfg), sort_keys=True)})
    digest = file_sha256(path)
    sidecar = {"heads_config": asdict(heads.cfg), "pooling": POOLING, "sha256": digest, **meta}
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n")
    return digest


def load_heads(path: str | Path) -> tuple[MiniClapHeads, dict]:
    """(heads in eval mode, sidecar dict) from a file written by :func:`save_heads`."""
    from ...checkpoints import CheckpointError, check_shapes, read_safetensors

    path = Path(path)
    state, metadata = read_safetensors(path, "MiniCLAP heads")
    if "heads_config" not in metadata:
        raise CheckpointError(path, "no heads_config in its metadata: not a MiniCLAP heads file")
    try:
        cfg = HeadsConfig(**json.loads(metadata["heads_config"]))
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"heads_config does not describe MiniCLAP heads ({error})") from None
    heads = MiniClapHeads(cfg)
    if "support" not in state:
        raise CheckpointError(path, "heads file without the distance gate's training items (written before the "
                                    "gate); rebuild it with `make miniclap`")
    heads.support = torch.empty_like(state["support"])  # its length is the number of training items
    check_shapes(state, {n: t.shape for n, t in heads.state_dict().items()}, path, "MiniCLAP heads")
    heads.load_state_dict(state)
    sidecar_path = path.with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
    return heads.eval(), sidecar
