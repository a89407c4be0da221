"""Structural quality: a model-free score from the signals the filters measured.

Each term maps one signal to 0 (poor) .. 1 (good); the weighted sum is added to the scorer's
score. With CLIP it nudges the ranking towards sharp, well-exposed, colourful frames with a
subject in the middle; with ``--model none`` it is the ranking. Every term is recorded on the
candidate (``q_<term>``), so the JSON shows why a frame scored what it did.

Example:
    >>> terms = quality_terms({"sharpness": 900.0, "brightness": 120.0, ...})
    >>> total = weighted(terms, QualityConfig())
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .config import QualityConfig

__all__ = ["quality_terms", "weighted"]

_MID_GREY = 118.0
"""Mean luma of a well-exposed frame."""


def _clip01(x: float) -> float:
    return 0.0 if math.isnan(x) else min(1.0, max(0.0, x))


_TERMS: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, float]], float]]] = {
    "sharpness": (("sharpness",), lambda s: math.log10(1.0 + s["sharpness"]) / 3.5),
    "crispness": (("blur_x", "blur_y"), lambda s: 1.0 - max(s["blur_x"], s["blur_y"])),
    "exposure": (("brightness",), lambda s: 1.0 - abs(s["brightness"] - _MID_GREY) / _MID_GREY),
    "contrast": (("luma_range",), lambda s: s["luma_range"] / 200.0),
    "colour": (("colourfulness",), lambda s: s["colourfulness"] / 100.0),
    "centre": (("centre_detail",), lambda s: s["centre_detail"] / 2.0),
}
"""Each term: the signals it needs, and how it maps them to 0 (poor) .. 1 (good)."""


def quality_terms(signals: Mapping[str, float]) -> dict[str, float]:
    """The terms this candidate's signals allow; a filter that did not run adds none."""
    return {name: _clip01(term(signals)) for name, (needs, term) in _TERMS.items() if all(k in signals for k in needs)}


def weighted(terms: Mapping[str, float], cfg: QualityConfig) -> float:
    """The weighted sum of the terms."""
    return sum(getattr(cfg, name) * value for name, value in terms.items())
