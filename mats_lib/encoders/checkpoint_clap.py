"""Adapters for the real CLAP checkpoints of the paper: MS-CLAP 2023 (``msclap``) and LAION-CLAP (``laion``).

Neither package nor any weights ship here; on a GPU host the user installs the ``paper`` extra and gives
a checkpoint path. Audio always goes through this project's loader (channels averaged, deterministic
centre crop / tiling to the model's clip length), not the packages' own file readers, so every backend
sees audio prepared the same way.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch

from .base import AudioTextEncoder

INSTALL_HINT = ("install the optional CLAP backends in a separate environment: `pip install -e .[paper]` "
                "(they pin numpy<2 / transformers<5, which clash with the default stack; see README 'Paper scale')")


def _import_backend(module: str, pip_name: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"the {pip_name!r} package is not installed ({error}); {INSTALL_HINT}") from error


def _require_checkpoint(checkpoint: str | Path | None, backend: str) -> Path:
    if checkpoint is None:
        raise ValueError(f"encoder {backend!r} needs checkpoint=<path to the .pth/.pt file>; "
                         f"weights are never downloaded at run time")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{backend} checkpoint not found: {path} (give the path of a downloaded checkpoint)")
    return path


def _device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


class MSClap(AudioTextEncoder):
    """Microsoft CLAP (msclap). 2023: 1024-d, HTSAT audio tower, GPT-2 text tower, 44.1 kHz, 7 s."""

    name = "msclap"

    def __init__(self, *, checkpoint: str | Path | None = None, version: str = "2023", device: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.checkpoint = _require_checkpoint(checkpoint, self.name)
        msclap = _import_backend("msclap", "msclap")
        self.device = _device(device)
        self.version = version
        self.wrapper = msclap.CLAP(model_fp=str(self.checkpoint), version=version, use_cuda=self.device == "cuda")
        self.sample_rate = int(self.wrapper.args.sampling_rate)
        self.clip_seconds = float(self.wrapper.args.duration)
        self.dim = int(self.wrapper.args.d_proj)

    def settings(self) -> dict:
        return {"checkpoint": self.checkpoint.name, "checkpoint_bytes": self.checkpoint.stat().st_size,
                "version": self.version, "sample_rate": self.sample_rate, "clip_seconds": self.clip_seconds}

    @torch.inference_mode()
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        return self.wrapper.get_text_embeddings(texts).float().cpu().numpy()

    @torch.inference_mode()
    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        batch = torch.from_numpy(np.stack(waves)).to(self.device)  # [b, samples]
        projected, _ = self.wrapper.clap.audio_encoder(batch)
        return projected.float().cpu().numpy()


class LaionClap(AudioTextEncoder):
    """LAION-CLAP (laion_clap): 512-d, 48 kHz, 10 s, HTSAT audio tower, RoBERTa text tower.

    Its text tower is built from ``roberta-base``: on an offline host that model must already be in the
    Hugging Face cache (HF_HOME) for the package to construct it.
    """

    name = "laion"
    dim = 512
    sample_rate = 48000
    clip_seconds = 10.0

    def __init__(self, *, checkpoint: str | Path | None = None, audio_model: str = "HTSAT-tiny",
                 enable_fusion: bool = False, device: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.checkpoint = _require_checkpoint(checkpoint, self.name)
        laion_clap = _import_backend("laion_clap", "laion-clap")
        self.device = _device(device)
        self.audio_model = audio_model
        self.enable_fusion = enable_fusion
        self.model = laion_clap.CLAP_Module(enable_fusion=enable_fusion, amodel=audio_model, device=self.device)
        self.model.load_ckpt(ckpt=str(self.checkpoint), verbose=False)

    def settings(self) -> dict:
        return {"checkpoint": self.checkpoint.name, "checkpoint_bytes": self.checkpoint.stat().st_size,
                "audio_model": self.audio_model, "enable_fusion": self.enable_fusion}

    @torch.inference_mode()
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.get_text_embedding(texts, use_tensor=False), dtype=np.float32)

    @torch.inference_mode()
    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        # LAION-CLAP was trained on int16-quantised audio; round-trip as its authors recommend.
        batch = (np.clip(np.stack(waves), -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0
        return np.asarray(self.model.get_audio_embedding_from_data(x=batch, use_tensor=False), dtype=np.float32)
