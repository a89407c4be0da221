"""The face bonus: a candidate with a face gains up to ``faces.bonus``, by the face's size.

The search itself is the ``FaceDetector`` stage (``streamthumb.faces``); this adapts it to the
bonus interface: it searches the analysis views, stores the boxes in full-resolution pixels,
and changes the score by the largest face:

    faces.bonus * min(1, face height / (faces.full_size * shorter side))
    - faces.edge_penalty         if the frame edge cuts the face (less than 70 % inside)
    - faces.closed_eyes_penalty  if the face is frontal, big enough, and no open eye is found

so the net change may be negative (a small face, cut or blinking). The candidate records
``face`` (1/0), ``face_size`` (height / shorter side), ``face_cut`` (1/0), ``eyes_open`` (1/0,
absent when not checked) and ``face_bonus`` (the net change). On a CPU the search costs about
twice the single frontal cascade it replaced, which cost about one CLIP encode; that is why
the pipeline calls it only where ``maximum`` could lift a candidate into the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..config import Config
from ..faces import Face, FaceDetector, make_face_detector
from ..results import Box
from ._base import Bonus, same_shape

if TYPE_CHECKING:
    from ..record import Candidate

__all__ = ["FaceBonus"]


class FaceBonus(Bonus):
    """Searches faces and adds the bonus of the largest one, less its penalties.

    Args:
        config: The whole config; reads ``faces``.
        detector: Replaces the configured detector (tests, or a shared DNN).
    """

    name = "face"

    def __init__(self, config: Config, detector: FaceDetector | None = None):
        super().__init__(config)
        self.maximum = config.faces.bonus
        self.minimum = -(config.faces.edge_penalty + config.faces.closed_eyes_penalty)
        self._detector = detector or make_face_detector(config.faces)

    def apply(self, candidates: Sequence[Candidate]) -> None:
        for group in same_shape(candidates):
            found = self._detector.detect_faces(torch.stack([c.view for c in group]))
            for cand, faces in zip(group, found, strict=True):
                assert cand.frame is not None, "a pooled candidate keeps its frame"
                to_full = max(cand.picture_size()) / max(cand.view.shape[-2:])  # found at view size
                cand.faces = _scale_boxes([f.box for f in faces], to_full)
                cand.score += self._measure(cand, faces, min(cand.view.shape[-2:]))

    def _measure(self, cand: Candidate, faces: list[Face], shorter_side: int) -> float:
        """Record the largest face's signals on the candidate; return the net bonus."""
        cfg = self.config.faces
        if not faces:
            for name in ("face", "face_size", "face_cut", "face_bonus"):
                cand.measure(name, 0.0)
            return 0.0
        face = max(faces, key=lambda f: (f.size, f.kind == "frontal"))
        size = face.size / shorter_side
        bonus = cfg.bonus * min(1.0, size / cfg.full_size)
        if face.cut:
            bonus -= cfg.edge_penalty
        if face.eyes_open is False:
            bonus -= cfg.closed_eyes_penalty
        cand.measure("face", 1.0)
        cand.measure("face_size", size)
        cand.measure("face_cut", float(face.cut))
        if face.eyes_open is not None:
            cand.measure("eyes_open", float(face.eyes_open))
        cand.measure("face_bonus", bonus)
        return bonus


def _scale_boxes(boxes: list[Box], factor: float) -> tuple[Box, ...]:
    return tuple((round(x * factor), round(y * factor), round(w * factor), round(h * factor)) for x, y, w, h in boxes)
