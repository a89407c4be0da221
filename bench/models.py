"""The one place in the project that builds a model with random weights, for timing only.

The product refuses random weights (``streamthumb.load_scorer``); a benchmark must not need a
download, and a forward pass costs the same whatever the weights hold. A plain open_clip
architecture name therefore means "this architecture, random init, seeded", and every report
says so. ``hf-hub:`` / ``local-dir:`` names, or a ``pretrained`` tag, load real weights through
the product's own ``load_scorer``.

Example:
    >>> loaded = load_model(ModelSpec("ViT-B-32"), torch.device("cpu"))
    >>> scorer = loaded.scorer()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported only where a model is built: the decode floor never pays for it
    import torch

__all__ = ["ModelSpec", "LoadedModel", "default_model", "load_model", "saved_random"]

RANDOM_SEED = 0
"""Every contender builds bit-identical random weights, so they all run the same model."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model to time and where its weights come from."""

    name: str
    """open_clip architecture (random init), or ``hf-hub:org/repo`` / ``local-dir:/path``."""
    pretrained: str | None = None
    """A pretrained tag or checkpoint for an architecture name; real weights, loaded by streamthumb."""

    @property
    def random_weights(self) -> bool:
        """True when the model is randomly initialised: valid for timing, meaningless for picks."""
        return self.pretrained is None and not self.name.startswith(("hf-hub:", "local-dir:"))

    @property
    def weights(self) -> str:
        """What the report prints next to the model name."""
        if self.random_weights:
            return "RANDOM-INIT (timing only: the architecture's real cost, meaningless scores)"
        return self.pretrained or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pretrained": self.pretrained,
            "random_weights": self.random_weights,
            "weights": self.weights,
        }


def default_model(device: torch.device) -> str:
    """ViT-B-32 is what a CPU can afford; ViT-L-14 is what people run on a GPU."""
    return "ViT-L-14" if device.type == "cuda" else "ViT-B-32"


@dataclass(frozen=True)
class LoadedModel:
    """A model with what both the seed pipeline and streamthumb need to drive it."""

    spec: ModelSpec
    model: Any
    """An open_clip ``CLIP`` or ``CustomTextCLIP`` (typed loosely: they share no base with ``encode_image``)."""
    tokenizer: Callable[[Sequence[str]], torch.Tensor]
    preprocess_cfg: dict[str, Any]
    device: torch.device

    def scorer(self, precision: str = "auto") -> Any:
        """The model as a ``streamthumb.ClipScorer`` with the default prompts."""
        from streamthumb.config import ScoringConfig
        from streamthumb.scoring import scorer_from_model

        cfg = ScoringConfig(precision=precision)  # type: ignore[arg-type]
        return scorer_from_model(self.model, self.tokenizer, cfg, self.device)


def load_model(spec: ModelSpec, device: torch.device) -> LoadedModel:
    """Build the model on ``device`` in eval mode.

    Raises:
        streamthumb.ModelError: real weights were asked for and cannot be loaded.
    """
    import open_clip
    import torch

    if spec.random_weights:
        torch.manual_seed(RANDOM_SEED)
        with _quiet_open_clip():  # it logs a warning about random init; our report says it louder
            model = open_clip.create_model(spec.name, pretrained=None, device=device)
    else:
        model = _real_weights(spec, device)
    return LoadedModel(
        spec=spec,
        model=model.eval().requires_grad_(False),
        tokenizer=open_clip.get_tokenizer(spec.name),
        preprocess_cfg=open_clip.get_model_preprocess_cfg(model),
        device=device,
    )


def saved_random(name: str, cache_dir: Path) -> Path:
    """The random-init ``name`` saved once as an open_clip ``local-dir:`` checkpoint.

    For contenders that load the model the product's way, in another process: the whole-process
    ``streamthumb pick`` and the Ray engine's scorer actors. Same seed, same weights as
    ``load_model``.
    """
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = cache_dir / f"{name}-random-init-seed{RANDOM_SEED}"
    if (folder / "open_clip_config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(RANDOM_SEED)
    with _quiet_open_clip():
        model = open_clip.create_model(name, pretrained=None)
    save_file(model.state_dict(), str(folder / "open_clip_model.safetensors"))
    preprocess = open_clip.get_model_preprocess_cfg(model)
    config = {"model_cfg": open_clip.get_model_config(name), "preprocess_cfg": preprocess}
    (folder / ".open_clip_config.json").write_text(json.dumps(config))
    (folder / ".open_clip_config.json").rename(folder / "open_clip_config.json")  # written last: the marker
    return folder


def _real_weights(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    import streamthumb
    from streamthumb.config import ScoringConfig

    cfg = ScoringConfig(model=spec.name)
    if spec.pretrained:
        cfg = dataclasses.replace(cfg, pretrained=spec.pretrained)
    model: torch.nn.Module = streamthumb.load_scorer(cfg, device).model
    return model


@contextlib.contextmanager
def _quiet_open_clip() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
