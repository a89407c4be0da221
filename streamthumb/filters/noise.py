"""The noise filter: TV static and heavy grain, which the Laplacian mistakes for detail.

Detail survives a 2x downscale (edges stay edges), independent pixel noise averages away. So
the ratio of the Laplacian variance at half size to that at full size is above 1 for photos
(1.5-7 measured) and about 0.25 for white noise.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views, halve
from .sharpness import laplacian_variance

__all__ = ["NoiseFilter"]


class NoiseFilter(Filter):
    """Rejects frames whose "detail" disappears at half size: ``noise``."""

    name = "noise"
    reasons = ("noise",)

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        full = views.laplacian_variance
        half = laplacian_variance(halve(views.gray))
        return {"detail_ratio": half / full.clamp(min=1e-6)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        value, limit = signals["detail_ratio"], self.config.filters.noise.min_ratio
        return Verdict(self.name, value >= limit, "noise", value, limit)
