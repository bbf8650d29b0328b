"""Reading weight files safely: safetensors only (never pickle), with errors that name the file and the problem.

A truncated download, a file from another model or encoder, or a half-written cache must stop the run with a
message saying which file is wrong and what to do, not a deserializer's traceback or a silent shape broadcast.
"""
from __future__ import annotations

from pathlib import Path

import torch


class CheckpointError(ValueError):
    def __init__(self, path: str | Path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


def read_safetensors(path: str | Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; ``what`` names it in errors ("trained weights", ...)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as error:  # safetensors raises its own SafetensorError (and OSError, ValueError) here
        raise CheckpointError(path, f"unreadable {what}: {error} (truncated or not a safetensors file; "
                                    "delete it and rebuild it)") from None
    return tensors, metadata


def check_shapes(state: dict[str, torch.Tensor], expected: dict[str, torch.Size], path: str | Path,
                 what: str) -> None:
    """Refuse weights whose names or shapes differ from the model's, listing the first differences."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{n} {tuple(state[n].shape)} (model: {tuple(expected[n])})"
             for n in sorted(set(state) & set(expected)) if state[n].shape != expected[n]]
    if missing or unexpected or wrong:
        problems = []
        if missing:
            problems.append(f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            problems.append(f"unexpected {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}")
        if wrong:
            problems.append(f"wrong shape {wrong[:3]}{' ...' if len(wrong) > 3 else ''}")
        raise CheckpointError(path, f"{what} do not fit this model ({'; '.join(problems)}): written for another "
                                    "model, encoder or configuration")


def load_torch_state(path: str | Path, what: str) -> dict:
    """A torch file of tensors and plain values, loaded with weights_only=True (no pickle code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return torch.load(path, weights_only=True)
    except Exception as error:
        raise CheckpointError(path, f"unreadable {what}: {type(error).__name__}: {str(error)[:300]} "
                                    "(truncated, or not written by this code)") from None
