"""Audio-text encoders in the CLAP role, built by name: ``create_encoder("tagclap")``.

| name      | what                                                   | runs here |
|-----------|--------------------------------------------------------|-----------|
| tagclap   | YAMNet class scores x MiniLM class-name embeddings     | yes (default) |
| miniclap  | tagclap + contrastive residual heads (`make miniclap`) | yes           |
| msclap    | Microsoft CLAP 2023 from its checkpoint (the paper's)  | with its weights + GPT-2 tokenizer |
| laion     | LAION-CLAP (transformers' ClapModel), original .pt or HF folder | with its weights + RoBERTa tokenizer |

Both checkpoint backends run in the default environment: MS-CLAP's model is built here (``msclap.py``), LAION-CLAP
is transformers' ``ClapModel`` (``laion.py``, with ``laion_convert.py`` for the original files). Their tokenizers
come from ``encoder.tokenizer`` (``text_tokenizer.py``).
"""
from __future__ import annotations

from .base import AudioTextEncoder, l2_normalize
from .cache import EmbeddingCache

ENCODERS = ("tagclap", "miniclap", "msclap", "laion")


def create_encoder(name: str, **settings) -> AudioTextEncoder:
    """Build an encoder by name; ``settings`` go to its constructor (e.g. ``checkpoint=...``, ``cache=False``)."""
    if name == "tagclap":
        from .tagclap import TagClap

        return TagClap(**settings)
    if name == "miniclap":
        from .miniclap import MiniClap

        return MiniClap(**settings)
    if name == "msclap":
        from .msclap import MSClap

        return MSClap(**settings)
    if name == "laion":
        from .laion import LaionClap

        return LaionClap(**settings)
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")


def encoder_from_config(encoder_cfg, **settings) -> AudioTextEncoder:
    """The encoder a run's ``cfg.encoder`` names, with its backend settings (checkpoint or pooling)."""
    if encoder_cfg.name == "tagclap":
        settings.setdefault("pooling", encoder_cfg.pooling)
    else:
        settings.setdefault("checkpoint", encoder_cfg.checkpoint)
    if encoder_cfg.name in ("msclap", "laion"):  # the text tower's tokenizer: neither checkpoint holds one
        settings.setdefault("tokenizer", encoder_cfg.tokenizer)
    return create_encoder(encoder_cfg.name, **settings)


__all__ = ["AudioTextEncoder", "EmbeddingCache", "ENCODERS", "create_encoder", "encoder_from_config", "l2_normalize"]
