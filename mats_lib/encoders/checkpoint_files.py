"""What the checkpoint-backed CLAPs (``msclap``, ``laion``) share: the checkpoint path they are given, the state
dict it holds (read with ``weights_only=True``: no pickled code runs), and the device they run on."""
from __future__ import annotations

from pathlib import Path

import torch


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or not the backend's; the message names the file and the key."""


def require_checkpoint(checkpoint: str | Path | None, backend: str, *, folder_ok: bool = False) -> Path:
    """The given checkpoint path, which must exist: a file (or, where ``folder_ok``, a Hugging Face folder)."""
    if checkpoint in (None, "", "???"):
        raise CheckpointError(f"encoder {backend!r} needs encoder.checkpoint=<path to its checkpoint>; weights are "
                              f"never downloaded at run time")
    path = Path(checkpoint).expanduser()
    if not (path.is_file() or (folder_ok and path.is_dir())):
        raise CheckpointError(f"{backend} checkpoint not found: {path} (give the path of a downloaded checkpoint)")
    return path


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a torch checkpoint, unwrapped from ``{"model": ...}`` / ``{"state_dict": ...}`` and stripped
    of DataParallel's ``module.`` prefix; non-tensor entries (epoch, optimizer settings) are dropped."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # not a torch file, truncated, or pickled objects that weights_only refuses
        raise CheckpointError(f"{path} cannot be read as a checkpoint with weights_only=True "
                              f"({type(error).__name__}: {str(error)[:200]})") from error
    for key in ("model", "state_dict"):
        if isinstance(blob, dict) and isinstance(blob.get(key), dict):
            blob = blob[key]
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path} holds a {type(blob).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in blob.items() if isinstance(v, torch.Tensor)}


def default_device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")
