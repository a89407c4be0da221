"""The blur filter that sees direction: the re-blur "blur effect" of Crete-Roffet et al., per axis.

The variance of the Laplacian rewards any strong edge, so a frame smeared by a fast pan along
x still passes it on its horizontal edges. The blur effect asks instead how much of the image's
own gradient survives a further 9-pixel box blur, one axis at a time: a sharp image loses much
of it (score near 0), an image already blurred along that axis loses little (near 1). Being a
ratio, it does not depend on how much texture the scene has. scikit-image's ``blur_effect`` is
the CPU reference; this is the same measure, batched in torch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["BlurFilter", "blur_effect"]

_REBLUR = 9
"""The box filter length of the re-blur, as in the paper and scikit-image."""
_ANISOTROPY = 0.12
"""Difference between the axes' blur above which the blur has a direction: motion."""


@torch.inference_mode()
def blur_effect(gray: torch.Tensor, axis: int) -> torch.Tensor:
    """(N,) blur effect along ``axis`` (-1: x, -2: y) of (N, 1, H, W) float images.

    The re-blurred image's gradient is taken without making the image: a step of a 9-pixel box
    mean is the difference of the two pixels 9 apart divided by 9, one subtraction per pixel
    where the box itself (``avg_pool2d``) costs nine, and the stage's largest cost.
    """
    pad = _REBLUR // 2
    padded = F.pad(gray, (pad, pad, 0, 0) if axis == -1 else (0, 0, pad, pad), mode="replicate")
    steps = padded.shape[axis] - _REBLUR
    d_blur = (padded.narrow(axis, _REBLUR, steps) - padded.narrow(axis, 0, steps)).abs_().div_(_REBLUR)
    d_sharp = gray.diff(dim=axis).abs()
    lost = (d_sharp - d_blur).clamp(min=0).flatten(1).sum(dim=1)
    total = d_sharp.flatten(1).sum(dim=1).clamp(min=1e-6)
    return (total - lost) / total


class BlurFilter(Filter):
    """Rejects frames blurred along either axis: ``motion_blur`` when one axis is much worse."""

    name = "blur"
    reasons = ("blurry", "motion_blur")

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {"blur_x": blur_effect(views.gray, -1), "blur_y": blur_effect(views.gray, -2)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        bx, by, limit = signals["blur_x"], signals["blur_y"], self.config.filters.blur.max_blur
        worst = max(bx, by)
        reason = "motion_blur" if abs(bx - by) > _ANISOTROPY else "blurry"
        return Verdict(self.name, worst <= limit, reason, worst, limit)
