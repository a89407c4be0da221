"""Pick the torch device once, so every stage agrees on it."""

from __future__ import annotations

import torch

from .errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` means CUDA, then Apple MPS, then CPU; an explicit name must be available.

    Raises:
        ConfigError: the requested device is not available on this machine.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("runtime.device: cuda requested but torch sees no CUDA GPU; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("runtime.device: mps requested but this machine has no Apple MPS; use --device cpu")
    return torch.device(name)
