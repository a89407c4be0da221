"""Find faces in a batch of frames, for the face bonus.

The detector sits behind a small interface so a stronger model (insightface, a DNN) can
replace OpenCV's Haar cascades without touching the pipeline. ``detect`` gives boxes;
``detect_faces`` also says what kind of face each is, whether the frame edge cuts it, and
whether its eyes look open, which the bonus reads.

Example:
    >>> detector = make_face_detector(FacesConfig())
    >>> boxes = detector.detect(batch_uint8)        # one list of (x, y, w, h) per image
    >>> faces = detector.detect_faces(batch_uint8)  # one list of Face per image
    >>> faces[0][0].kind, faces[0][0].cut, faces[0][0].eyes_open
    ('frontal', False, True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch

from .config import FacesConfig
from .errors import ModelError
from .results import Box

__all__ = ["CUT_VISIBLE", "FACE_DETECTORS", "Face", "FaceDetector", "HaarFaceDetector", "make_face_detector"]

FaceKind = Literal["frontal", "profile"]

CUT_VISIBLE = 0.7
"""A face with less of its box than this inside the frame is cut. For a Haar box (forehead to
chin) 0.7 puts the frame edge through the eyebrows or lower."""


@dataclass(frozen=True)
class Face:
    """One face found in one image.

    Args:
        box: (x, y, width, height) in the image's pixels, clipped to the image.
        kind: ``frontal`` or ``profile`` (a turned face).
        visible: The fraction of the whole face's box inside the image; below 1 the frame edge
            cuts the face (found by searching past the edge).
        eyes_open: Whether an open eye was found in it; None where it was not checked (not
            frontal, too small, eyes outside the frame, or a detector that does not check).
    """

    box: Box
    kind: FaceKind = "frontal"
    visible: float = 1.0
    eyes_open: bool | None = None

    def __post_init__(self) -> None:
        if len(self.box) != 4 or min(self.box[2:]) < 0:
            raise ValueError(f"a face box is (x, y, width, height) with sizes >= 0, not {self.box}")
        if not 0.0 <= self.visible <= 1.0:
            raise ValueError(f"a face's visible fraction is in [0, 1], not {self.visible}")

    @property
    def cut(self) -> bool:
        """Whether the frame edge cuts the face badly (less than ``CUT_VISIBLE`` inside)."""
        return self.visible < CUT_VISIBLE

    @property
    def size(self) -> int:
        """The face's height in pixels: the box's longer side, which an edge cutting the face
        on one side leaves whole."""
        return max(self.box[2], self.box[3])


class FaceDetector(ABC):
    """Finds faces in (N, 3, H, W) uint8 RGB images."""

    @abstractmethod
    def detect(self, images: torch.Tensor) -> list[list[Box]]:
        """One list of (x, y, width, height) boxes per image, in that image's pixels."""

    def detect_faces(self, images: torch.Tensor) -> list[list[Face]]:
        """One list of faces per image, with what is known about each.

        The default wraps ``detect``: frontal faces, wholly inside, eyes unchecked. Detectors
        that know more override it.
        """
        return [[Face((int(x), int(y), int(w), int(h))) for x, y, w, h in boxes] for boxes in self.detect(images)]


# A cascade reports a face where several overlapping windows fire ("neighbours"). A face cut by
# the frame edge fills fewer windows, so boxes reaching past the edge need fewer of them. With
# these settings the whole search found one false face in 171 crops of scikit-image's face-free
# photos (the ``default`` frontal cascade alone, today's detector before this one, found 24).
_NEIGHBOURS = 5
_EDGE_NEIGHBOURS = 3
_PROFILE_NEIGHBOURS = 3
_PAD = 0.15
"""Search margin past each frame edge, as a fraction of the shorter side."""
_PROFILE_MIN = 0.14
"""Smallest turned face searched, as a fraction of the shorter side. The profile cascade runs
twice (both directions) at the resolution where this is its 20 px window: 0.14 keeps the whole
search near twice the cost of one frontal pass (0.11 would find a few more small turned faces
at 1.5x the profile cost)."""
_EYES_MIN = 60
"""Smallest frontal face (pixels at the work size) whose eyes are checked."""
_EYE_FACE_WIDTH = 120
"""The face's upper half is resized to this width for the eye search (eyes ~25-30 px)."""
_SAME_FACE_IOU = 0.3


class HaarFaceDetector(FaceDetector):
    """OpenCV's Haar cascades, shipped with opencv-python-headless.

    Frontal faces come from the ``frontalface_alt2`` cascade: on the LFW faces scikit-image
    ships it found as many as the ``default`` cascade (98 % against 95 %), and in 171 crops of
    its face-free photos no false face where ``default`` found 24. The search runs past the
    frame edge (a replicated margin above and below, the frame's mean colour left and right),
    so a face whose top the frame cuts off still fills the cascade's window; such boxes are
    clipped back and remember how much of them was inside. Turned faces come from the
    ``profileface`` cascade, on the image and its mirror (it finds faces turned one way only).
    Boxes of the same face are merged: frontal wins over profile, then the larger. The eyes of
    frontal faces of ``_EYES_MIN`` pixels or more are looked for with the ``eye`` and
    ``eye_tree_eyeglasses`` cascades, which find open eyes.

    Args:
        min_size: Smallest face, as a fraction of the frame's shorter side.
        work_size: Frames are searched with at most this shorter side. Haar cost grows with
            pixels, and at 360 the smallest face (7 % of 360 = 25 px) still fills the cascade's
            24 px window.
        scale_factor: Step between the cascade's search scales; 1.2 halves the cost of 1.1.
        profile: Also search turned faces.
        eyes: Check whether the eyes of frontal faces are open.

    Raises:
        ModelError: A cascade file is missing or unreadable.
    """

    def __init__(
        self,
        min_size: float = 0.07,
        work_size: int = 360,
        scale_factor: float = 1.2,
        *,
        profile: bool = True,
        eyes: bool = True,
    ):
        self._frontal = _cascade("haarcascade_frontalface_alt2.xml")
        self._profile = _cascade("haarcascade_profileface.xml") if profile else None
        self._eyes = (_cascade("haarcascade_eye.xml"), _cascade("haarcascade_eye_tree_eyeglasses.xml")) if eyes else ()
        self._min_size = min_size
        self._work_size = work_size
        self._scale_factor = scale_factor

    def detect(self, images: torch.Tensor) -> list[list[Box]]:
        return [[face.box for face in faces] for faces in self.detect_faces(images)]

    def detect_faces(self, images: torch.Tensor) -> list[list[Face]]:
        arrays = images.permute(0, 2, 3, 1).cpu().numpy()
        return [self._detect_one(a) for a in arrays]

    def _detect_one(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        full = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self._work_size / min(height, width))
        gray = full
        if scale < 1.0:
            gray = cv2.resize(full, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        found = self._frontal_faces(gray) + self._profile_faces(gray)
        faces = []
        for kind, (x, y, w, h) in _merge(found):
            visible = round(_visible((x, y, w, h), gray.shape[1], gray.shape[0]), 3)
            eyes_open = None
            if kind == "frontal" and self._eyes and h >= _EYES_MIN:
                eyes_open = self._eyes_open(full, (x / scale, y / scale, w / scale, h / scale))
            box = _clip((x / scale, y / scale, w / scale, h / scale), width, height)
            faces.append(Face(box, kind, visible, eyes_open))
        return faces

    def _frontal_faces(self, gray: np.ndarray) -> list[tuple[FaceKind, Box, int]]:
        height, width = gray.shape
        side = max(1, round(min(height, width) * self._min_size))
        pad = round(min(height, width) * _PAD)
        # Replicated rows above and below continue a forehead or chin; a replicated column
        # beside the frame would smear one half-face into stripes, so that side gets the mean.
        padded = cv2.copyMakeBorder(gray, pad, pad, 0, 0, cv2.BORDER_REPLICATE)
        padded = cv2.copyMakeBorder(padded, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=int(gray.mean()))
        found: list[tuple[FaceKind, Box, int]] = []
        for (x, y, w, h), n in _detections(self._frontal, padded, self._scale_factor, _EDGE_NEIGHBOURS, side):
            box = (x - pad, y - pad, w, h)
            inside = _visible(box, width, height) == 1.0
            if n > (_NEIGHBOURS if inside else _EDGE_NEIGHBOURS):
                found.append(("frontal", box, n))
        return found

    def _profile_faces(self, gray: np.ndarray) -> list[tuple[FaceKind, Box, int]]:
        if self._profile is None:
            return []
        height, width = gray.shape
        smallest = max(self._min_size, _PROFILE_MIN) * min(height, width)
        scale = min(1.0, 20 / smallest)  # the profile cascade's window is 20 px
        small = gray
        if scale < 1.0:
            small = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        side = max(20, round(smallest * scale))
        found: list[tuple[FaceKind, Box, int]] = []
        for mirrored in (False, True):
            image = np.ascontiguousarray(small[:, ::-1]) if mirrored else small
            # The plain search: turned faces are found with fewer neighbours, too few for the
            # first pass of ``_detections`` to see every time, and the image is small already.
            for (x, y, w, h), n in _search(self._profile, image, self._scale_factor, _PROFILE_NEIGHBOURS, side):
                if mirrored:
                    x = small.shape[1] - x - w
                box = (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
                found.append(("profile", box, n))
        return found

    def _eyes_open(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> bool | None:
        """Whether an open eye is in the face's upper half; None when the frame cuts it off."""
        x, y, w, h = (round(v) for v in box)
        top, bottom = y + round(h * 0.15), y + round(h * 0.65)  # Haar boxes put the eyes at ~40 %
        if top < 0 or x < 0 or x + w > gray.shape[1] or bottom > gray.shape[0]:
            return None
        zoom = _EYE_FACE_WIDTH / w
        region = cv2.resize(gray[top:bottom, x : x + w], (_EYE_FACE_WIDTH, round((bottom - top) * zoom)))
        # Both eye cascades find open eyes only; the second one also sees through glasses.
        # On LFW faces they found an eye in 94 % of faces and in 3 % of faces with painted-over eyes.
        least, most = round(_EYE_FACE_WIDTH * 0.15), _EYE_FACE_WIDTH // 2
        return any(
            len(cascade.detectMultiScale(region, 1.1, 3, minSize=(least, least), maxSize=(most, most)))
            for cascade in self._eyes
        )


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise ModelError(f"cannot load OpenCV's cascade from {path}; reinstall opencv-python-headless")
    return cascade


def _detections(
    cascade: cv2.CascadeClassifier, image: np.ndarray, step: float, neighbours: int, side: int
) -> list[tuple[Box, int]]:
    """(box, neighbour count) for each face the cascade finds, at least ``side`` pixels.

    Above scale 2 OpenCV moves the window one pixel at a time instead of two, so most of a
    plain search goes to large windows laid four times denser than smaller ones. The search
    runs in two passes instead. The first finds every window the cascade accepts, an octave
    at a time, each octave at the stride OpenCV uses below scale 2 (a tenth of the window). The
    second searches only the regions around those windows the plain way, with OpenCV's own
    grouping and neighbour count. A face the plain search finds fills many windows, so the
    first pass sees at least one of them. On grainy 360p frames with no face the padded
    frontal search costs about half as much (114 to 50 ms). On 240 LFW and astronaut faces
    pasted into photos, 60 face-free crops and 28 benchmark frames, the faces it lost or gained
    against the plain search all had 4 to 6 neighbours (frontal faces need 6 inside the frame):
    a strong face is found either way.
    """
    found: list[tuple[Box, int]] = []
    for (x0, y0, x1, y1), least, most in _regions(_windows(cascade, image, step, side), image.shape, side):
        for (x, y, w, h), n in _search(cascade, image[y0:y1, x0:x1], step, neighbours, least, most):
            found.append(((x + x0, y + y0, w, h), n))
    return found


def _search(
    cascade: cv2.CascadeClassifier, image: np.ndarray, step: float, neighbours: int, least: int, most: int = 0
) -> list[tuple[Box, int]]:
    """OpenCV's plain search for windows of ``least`` to ``most`` pixels (0: any size):
    (box, neighbour count) of each face."""
    boxes, counts = cascade.detectMultiScale2(
        image, scaleFactor=step, minNeighbors=neighbours, minSize=(least, least), maxSize=(most, most)
    )
    rows = np.asarray(boxes, dtype=int).reshape(-1, 4).tolist()
    return [((x, y, w, h), int(n)) for (x, y, w, h), n in zip(rows, np.asarray(counts).ravel().tolist(), strict=True)]


def _windows(cascade: cv2.CascadeClassifier, image: np.ndarray, step: float, side: int) -> list[Box]:
    """Every window of at least ``side`` pixels the cascade accepts, found an octave at a time."""
    window = max(cascade.getOriginalWindowSize())
    found: list[Box] = []
    octave, scale = image, 1
    while min(octave.shape) >= window:
        least = max(window, -(-side // scale))
        if least < 2 * window:  # this octave's scales 1 to 2, where OpenCV steps 2 pixels
            largest = (2 * window - 1, 2 * window - 1)
            boxes = cascade.detectMultiScale(
                octave, scaleFactor=step, minNeighbors=0, minSize=(least, least), maxSize=largest
            )
            rows = np.asarray(boxes, dtype=int).reshape(-1, 4).tolist()
            found += [(x * scale, y * scale, w * scale, h * scale) for x, y, w, h in rows]
        octave = cv2.resize(octave, (octave.shape[1] // 2, octave.shape[0] // 2), interpolation=cv2.INTER_AREA)
        scale *= 2
    return found


_Region = tuple[int, int, int, int, int, int]
"""(x0, y0, x1, y1, least, most): a part of an image, and the window sizes to search in it."""


def _union(regions: list[_Region]) -> _Region:
    """The bounding box of the regions, with the widest range of window sizes."""
    x0, y0, x1, y1, least, most = zip(*regions, strict=True)
    return (min(x0), min(y0), max(x1), max(y1), min(least), max(most))


def _regions(windows: list[Box], shape: tuple[int, ...], side: int) -> list[tuple[tuple[int, int, int, int], int, int]]:
    """Where to search fully: each window with a margin of its own size on every side, for
    windows of a third to three times its size; overlapping regions are merged, so no window is
    searched (and counted as a neighbour) twice."""
    todo: list[_Region] = [(x - w, y - h, x + 2 * w, y + 2 * h, max(side, w // 3), 3 * w) for x, y, w, h in windows]
    merged: list[_Region] = []
    while todo:
        region = todo.pop()
        touching = [
            m for m in merged if m[0] < region[2] and region[0] < m[2] and m[1] < region[3] and region[1] < m[3]
        ]
        if not touching:
            merged.append(region)
            continue
        merged = [m for m in merged if m not in touching]
        todo.append(_union([region, *touching]))
    height, width = shape[:2]
    return [
        ((max(0, x0), max(0, y0), min(width, x1), min(height, y1)), least, most)
        for x0, y0, x1, y1, least, most in merged
    ]


def _visible(box: Box, width: int, height: int) -> float:
    """The fraction of the box inside a width x height image."""
    x, y, w, h = box
    inner_w = max(0, min(width, x + w) - max(0, x))
    inner_h = max(0, min(height, y + h) - max(0, y))
    return inner_w * inner_h / (w * h) if w * h else 0.0


def _clip(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    x, y, w, h = box
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(width, round(x + w)), min(height, round(y + h))
    return (left, top, max(0, right - left), max(0, bottom - top))


def _overlap(a: Box, b: Box) -> tuple[float, float]:
    """(intersection over union, intersection over the smaller box)."""
    inner_w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    inner_h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = inner_w * inner_h
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    if not inter:
        return 0.0, 0.0
    return inter / (area_a + area_b - inter), inter / min(area_a, area_b)


def _merge(found: Sequence[tuple[FaceKind, Box, int]]) -> list[tuple[FaceKind, Box]]:
    """One box per face: frontal before profile, then larger, then more neighbours; a box
    overlapping a kept one (IoU > 0.3, or mostly inside it) is the same face."""
    order = sorted(found, key=lambda f: (f[0] != "frontal", -f[1][2] * f[1][3], -f[2]))
    kept: list[tuple[FaceKind, Box]] = []
    for kind, box, _ in order:
        if all(iou <= _SAME_FACE_IOU and within < 0.7 for iou, within in (_overlap(box, k[1]) for k in kept)):
            kept.append((kind, box))
    return kept


FACE_DETECTORS: dict[str, Callable[[FacesConfig], FaceDetector]] = {
    "haar": lambda cfg: HaarFaceDetector(min_size=cfg.min_size, profile=cfg.profile),
}
"""Detector names accepted by ``faces.detector``."""


def make_face_detector(cfg: FacesConfig) -> FaceDetector:
    """Build the configured face detector.

    Raises:
        ModelError: The detector's model files cannot be loaded.
    """
    return FACE_DETECTORS[cfg.detector](cfg)
