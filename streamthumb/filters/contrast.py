"""The contrast filter: washed-out, foggy and flat frames, from luma percentiles.

Mean luma alone passes a milky grade (mean near 196 is well inside 20-240). The spread between
the 2nd and 98th luma percentiles says whether the frame has blacks and whites at all; a bright
frame with a narrow range is washed out, any frame with a very narrow range is flat.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["ContrastFilter"]


class ContrastFilter(Filter):
    """Rejects ``washed_out`` (bright and narrow) and ``low_contrast`` (narrow) frames."""

    name = "contrast"
    reasons = ("washed_out", "low_contrast")

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {"luma_range": views.percentile(0.98) - views.percentile(0.02)}

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        cfg, spread = self.config.filters.contrast, signals["luma_range"]
        if spread < cfg.min_range:
            return Verdict(self.name, False, "low_contrast", spread, cfg.min_range)
        if signals.get("brightness", 0.0) > cfg.washed_luma:
            return Verdict(self.name, spread >= cfg.washed_range, "washed_out", spread, cfg.washed_range)
        return Verdict(self.name, True, "low_contrast", spread, cfg.min_range)
