"""The exposure filter: black and blown-out frames by mean luma."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views, halve, variance

__all__ = ["ExposureFilter", "colourfulness"]


def colourfulness(rgb: torch.Tensor) -> torch.Tensor:
    """(N,) colourfulness of Hasler and Suesstrunk (2003) of (N, 3, H, W) 0-255 images.

    Not a filter threshold: the quality score's colour term. Measured here because it reads
    the same planes as exposure; at half size, since four times fewer pixels give the same
    statistics.
    """
    rgb = halve(rgb)
    rg = (rgb[:, 0] - rgb[:, 1]).flatten(1)
    yb = (0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]).flatten(1)
    spread = (variance(rg) + variance(yb)).sqrt()
    centre = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return spread + 0.3 * centre


class ExposureFilter(Filter):
    """Rejects frames whose mean luma lies outside ``min_brightness``..``max_brightness``."""

    name = "exposure"
    reasons = ("dark", "blown_out")

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {"brightness": views.gray.flatten(1).mean(dim=1), "colourfulness": colourfulness(views.rgb)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        cfg, value = self.config.filters.exposure, signals["brightness"]
        if value < cfg.min_brightness:
            return Verdict(self.name, False, "dark", value, cfg.min_brightness)
        if value > cfg.max_brightness:
            return Verdict(self.name, False, "blown_out", value, cfg.max_brightness)
        return Verdict(self.name, True, "dark", value, cfg.min_brightness)
