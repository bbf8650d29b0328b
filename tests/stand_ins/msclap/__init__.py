"""A stand-in for Microsoft's `msclap` package with its API (``CLAP(model_fp, version, use_cuda)``, ``args``,
``clap.audio_encoder``, ``get_text_embeddings``) and tiny random towers, so the paper's encoder adapter runs without
its weights. Importable as ``msclap`` with this folder on the path (also from a subprocess, through PYTHONPATH)."""
from argparse import Namespace

import torch

DIM, RATE, SECONDS = 16, 8000, 1


class _AudioTower(torch.nn.Module):
    """[b, samples] -> ([b, DIM], extras), the shape contract of msclap's audio encoder."""

    def __init__(self, samples: int):
        super().__init__()
        self.samples = samples
        self.proj = torch.nn.Linear(8, DIM)

    def forward(self, x):
        assert x.shape[1] == self.samples, "the adapter must fix the clip length"
        return self.proj(x.reshape(x.shape[0], 8, -1).abs().mean(-1)), {}


class CLAP:
    def __init__(self, model_fp, version, use_cuda):
        torch.manual_seed(0)
        self.model_fp, self.version = model_fp, version
        self.device = torch.device("cuda" if use_cuda else "cpu")  # msclap moves its towers when use_cuda
        self.args = Namespace(sampling_rate=RATE, duration=SECONDS, d_proj=DIM)
        self.clap = Namespace(audio_encoder=_AudioTower(RATE * SECONDS).to(self.device))

    def get_text_embeddings(self, texts):
        # distinct, deterministic per text (its bytes), on the tower's device as msclap returns them
        rows = [torch.tensor([float(sum(t.encode()) % (97 + i)) for i in range(DIM)]) for t in texts]
        return torch.stack(rows).to(self.device)
