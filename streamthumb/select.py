"""Keep the best candidates while streaming, then pick top-K under the diversity rules.

The pool holds a fixed number of frames however long the video is. When it overflows, it
first drops candidates that can never be picked over a better one nearby (within ``min_gap``
of, or in the same shot as, a higher score), and only then the lowest score.

Example:
    >>> pool = TopKPool(SelectConfig(k=3))
    >>> pool.offer(scored)
    >>> best = pool.choose(num_shots=12)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .config import SelectConfig
from .decode import Frame
from .results import Box

__all__ = ["Scored", "TopKPool"]


@dataclass(frozen=True)
class Scored:
    """A measured candidate with its frame."""

    t: float
    shot: int
    score: float
    clip: float
    sharpness: float
    brightness: float
    faces: tuple[Box, ...] | None
    """Face boxes in full-resolution pixels of the upright frame; None until searched."""
    view: torch.Tensor = field(repr=False, compare=False)
    """The (3, h, w) uint8 analysis-size copy the filters and models saw."""
    frame: Frame = field(repr=False, compare=False)
    """The decoded frame; converted to full-resolution RGB only if it is picked."""


class TopKPool:
    """A bounded pool of candidates, ranked by ``score``.

    Args:
        cfg: k, diversity rules and the pool capacity.
    """

    def __init__(self, cfg: SelectConfig):
        self._cfg = cfg
        self._items: list[Scored] = []

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[Scored]:
        """Pooled candidates, best first."""
        return sorted(self._items, key=lambda s: -s.score)

    def admission(self) -> float:
        """The score a newcomer must reach to outrank the worst pooled item, once the pool is full."""
        if len(self._items) < self._cfg.capacity:
            return float("-inf")
        return min(s.score for s in self._items)

    def replace(self, items: list[Scored]) -> None:
        """Swap in updated versions of the pooled items, such as after a late face search."""
        self._items = list(items)

    def offer(self, item: Scored) -> None:
        """Add a candidate, evicting one if the pool is over capacity."""
        self._items.append(item)
        if len(self._items) > self._cfg.capacity:
            self._items.remove(self._victim())

    def _victim(self) -> Scored:
        ranked = self.items
        for i in range(len(ranked) - 1, 0, -1):
            cand = ranked[i]
            if any(self._conflict(cand, better) for better in ranked[:i]):
                return cand
        return ranked[-1]

    def _conflict(self, a: Scored, b: Scored, *, per_shot: bool = True) -> bool:
        if abs(a.t - b.t) < self._cfg.min_gap:
            return True
        return per_shot and self._cfg.one_per_shot and a.shot == b.shot

    def choose(self, num_shots: int) -> list[Scored]:
        """Greedy top-K: best first, skipping conflicts; one per shot only while shots >= k."""
        per_shot = num_shots >= self._cfg.k
        picked: list[Scored] = []
        for item in self.items:
            if any(self._conflict(item, p, per_shot=per_shot) for p in picked):
                continue
            picked.append(item)
            if len(picked) == self._cfg.k:
                break
        return picked
