"""The blur filter: variance of the Laplacian at a fixed analysis size.

CLIP is tolerant of blur, so blurred frames are dropped before it. The variance of the
Laplacian depends on resolution; measuring at one shorter side lets a single threshold serve
480p, 720p and 1080p (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views, laplacian, variance

__all__ = ["SharpnessFilter", "centre_detail", "laplacian_variance"]


@torch.inference_mode()
def laplacian_variance(gray: torch.Tensor) -> torch.Tensor:
    """(N,) variance of the 3x3 Laplacian of (N, 1, H, W) float gray images."""
    return variance(laplacian(gray).flatten(1))


def centre_detail(lap: torch.Tensor) -> torch.Tensor:
    """(N,) mean Laplacian energy of the central third over the whole frame's, from a Laplacian:
    above 1 when the detail (a subject) sits in the middle, below 1 for an empty centre."""
    energy = lap.abs()
    h, w = energy.shape[-2:]
    centre = energy[..., h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].flatten(1).mean(dim=1)
    return centre / energy.flatten(1).mean(dim=1).clamp(min=1e-6)


class SharpnessFilter(Filter):
    """Rejects frames whose variance of the Laplacian is below ``min_sharpness``."""

    name = "sharpness"
    reasons = ("blurry",)

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        lap = views.laplacian
        return {"sharpness": views.laplacian_variance, "centre_detail": centre_detail(lap)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        value, limit = signals["sharpness"], self.config.filters.sharpness.min_sharpness
        return Verdict(self.name, value >= limit, "blurry", value, limit)
