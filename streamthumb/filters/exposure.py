"""The exposure filter: black and blown-out frames by mean luma."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["ExposureFilter"]


class ExposureFilter(Filter):
    """Rejects frames whose mean luma lies outside ``min_brightness``..``max_brightness``."""

    name = "exposure"
    reasons = ("dark", "blown_out")

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {"brightness": views.gray.flatten(1).mean(dim=1)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        cfg, value = self.config.filters.exposure, signals["brightness"]
        if value < cfg.min_brightness:
            return Verdict(self.name, False, "dark", value, cfg.min_brightness)
        if value > cfg.max_brightness:
            return Verdict(self.name, False, "blown_out", value, cfg.max_brightness)
        return Verdict(self.name, True, "dark", value, cfg.min_brightness)
