"""The blur filter: variance of the Laplacian at a fixed analysis size.

CLIP is tolerant of blur, so blurred frames are dropped before it. The variance of the
Laplacian depends on resolution; measuring at one shorter side lets a single threshold serve
480p, 720p and 1080p (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["SharpnessFilter", "laplacian_variance"]


@torch.inference_mode()
def laplacian_variance(gray: torch.Tensor) -> torch.Tensor:
    """(N,) variance of the 3x3 Laplacian of (N, 1, H, W) float gray images."""
    import kornia

    lap = kornia.filters.laplacian(gray, kernel_size=3, border_type="replicate", normalized=False)
    return lap.flatten(1).var(dim=1)


class SharpnessFilter(Filter):
    """Rejects frames whose variance of the Laplacian is below ``min_sharpness``."""

    name = "sharpness"
    reasons = ("blurry",)

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {"sharpness": laplacian_variance(views.gray)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        value, limit = signals["sharpness"], self.config.filters.sharpness.min_sharpness
        return Verdict(self.name, value >= limit, "blurry", value, limit)
