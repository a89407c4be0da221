"""The transition filter: dissolves, fades and the frames right beside a cut.

ContentDetector reports no cut for a dissolve, so its frames arrive as ordinary candidates. The
candidate planner measures each candidate's window of the shot detector's per-frame numbers in
the decode pass (``cut_gap``, ``dissolve``, ``fade``; see ``candidates.py``); this filter only
judges them, so it costs nothing on the device. A dissolve shows either as a dip in luma spread
(pictures of like spread) or as a fast ramp in it (unlike spread).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..results import Verdict
from ._base import Filter, Views

__all__ = ["TransitionFilter"]


class TransitionFilter(Filter):
    """Rejects ``dissolve``, ``fade`` and ``near_cut`` frames."""

    name = "transition"
    reasons = ("dissolve", "fade", "near_cut")

    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        return {}  # measured by the planner in the decode pass

    def judge(self, signals: Mapping[str, float]) -> Verdict:
        cfg = self.config.filters.transition
        gap = signals.get("cut_gap", math.inf)
        if gap < cfg.min_cut_gap:
            return Verdict(self.name, False, "near_cut", gap, cfg.min_cut_gap)
        fade = signals.get("fade", 1.0)
        if fade < cfg.max_fade:
            return Verdict(self.name, False, "fade", fade, cfg.max_fade)
        slope = signals.get("spread_slope", 0.0)
        if slope > cfg.max_slope:
            return Verdict(self.name, False, "dissolve", slope, cfg.max_slope)
        dip = signals.get("dissolve", 1.0)
        return Verdict(self.name, dip >= cfg.max_dip, "dissolve", dip, cfg.max_dip)
