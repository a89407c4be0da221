"""The graphics filter: slates, title and end cards, credits, colour bars and test patterns.

Made frames are mostly perfectly flat colour with hard edges and text; camera frames have
grain, texture and gradients almost everywhere. The share of pixels with no luma gradient at
all to their right and below neighbours separates the two with no model. CLIP's negative
prompts still add to it when real weights are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["GraphicFilter"]

_FLAT = 1.5
"""Luma steps (0-255) to both neighbours below which a pixel counts as flat: under the grain
of any camera, above the rounding of an encoded flat colour."""


class GraphicFilter(Filter):
    """Rejects frames that are mostly flat colour: ``graphic``."""

    name = "graphic"
    reasons = ("graphic",)

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        g = views.gray
        dx = g.diff(dim=-1).abs()[..., :-1, :]
        dy = g.diff(dim=-2).abs()[..., :, :-1]
        return {"flat": ((dx + dy) < _FLAT).float().flatten(1).mean(dim=1)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        value, limit = signals["flat"], self.config.filters.graphic.max_flat
        return Verdict(self.name, value <= limit, "graphic", value, limit)
