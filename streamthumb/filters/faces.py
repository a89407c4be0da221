"""The face bonus: a candidate with a face of at least ``faces.min_size`` gains ``faces.bonus``.

The search itself is the ``FaceDetector`` stage (``streamthumb.faces``); this adapts it to the
bonus interface: it searches the analysis views, stores the boxes in full-resolution pixels,
and adds the bonus. On a CPU a Haar search costs about one CLIP encode, which is why the
pipeline calls it only where ``maximum`` could lift a candidate into the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..config import Config
from ..decode import upright_size
from ..faces import FaceDetector, make_face_detector
from ..results import Box
from ._base import Bonus

if TYPE_CHECKING:
    from ..record import Candidate

__all__ = ["FaceBonus"]


class FaceBonus(Bonus):
    """Searches faces and adds the bonus.

    Args:
        config: The whole config; reads ``faces``.
        detector: Replaces the configured detector (tests, or a shared DNN).
    """

    name = "face"

    def __init__(self, config: Config, detector: FaceDetector | None = None):
        super().__init__(config)
        self.maximum = config.faces.bonus
        self._detector = detector or make_face_detector(config.faces)

    def apply(self, candidates: Sequence[Candidate]) -> None:
        for group in _same_shape(candidates):
            found = self._detector.detect(torch.stack([c.view for c in group]))
            for cand, boxes in zip(group, found, strict=True):
                assert cand.frame is not None, "a pooled candidate keeps its frame"
                to_full = max(upright_size(cand.frame)) / max(cand.view.shape[-2:])  # found at view size
                cand.faces = _scale_boxes(boxes, to_full)
                cand.measure("face", 1.0 if boxes else 0.0)
                cand.score += self.maximum if boxes else 0.0


def _same_shape(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Candidates grouped by view shape: a stream may change resolution, a batch may not."""
    groups: dict[torch.Size, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.view.shape, []).append(c)
    return list(groups.values())


def _scale_boxes(boxes: list[Box], factor: float) -> tuple[Box, ...]:
    return tuple((round(x * factor), round(y * factor), round(w * factor), round(h * factor)) for x, y, w, h in boxes)
