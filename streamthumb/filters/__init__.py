"""Structural filters: cheap, batched image statistics that reject bad frames before scoring.

Each filter is a small class in its own module behind ``Filter``: ``measure`` computes signals
for a batch of analysis views on the device, ``judge`` turns one candidate's signals into a
``Verdict``. Each has its own section under ``filters:`` in the config, and ``FILTERS`` maps the
names ``filters.enabled`` accepts to the classes, the way PySceneDetect keeps one detector per
file. Bonuses (``Bonus``) add to a candidate's score instead of rejecting it, and declare their
maximum, so costly ones run only where they could change the pool.

Example:
    >>> filters = make_filters(Config())
    >>> views = Views(batch_uint8)
    >>> signals = measure_all(filters, views)         # name -> (N,) tensor
"""

from __future__ import annotations

from ..config import Config
from ._base import Bonus, Filter, Views, measure_all, same_shape
from .blur import BlurFilter
from .contrast import ContrastFilter
from .exposure import ExposureFilter
from .faces import FaceBonus
from .graphic import GraphicFilter
from .noise import NoiseFilter
from .sharpness import SharpnessFilter
from .transition import TransitionFilter

__all__ = [
    "FILTERS",
    "Bonus",
    "FaceBonus",
    "Filter",
    "Views",
    "make_bonuses",
    "make_filters",
    "measure_all",
    "same_shape",
]

FILTERS: dict[str, type[Filter]] = {
    f.name: f
    for f in (SharpnessFilter, BlurFilter, ExposureFilter, ContrastFilter, NoiseFilter, GraphicFilter, TransitionFilter)
}
"""Filter names accepted by ``filters.enabled``; each is also its config section's name."""


def make_filters(config: Config) -> list[Filter]:
    """The enabled filters, in the configured order."""
    return [FILTERS[name](config) for name in config.filters.enabled]


def make_bonuses(config: Config) -> list[Bonus]:
    """The enabled bonuses; faces is the only one today."""
    return [FaceBonus(config)] if config.faces.enabled else []
