"""Find faces in a batch of frames, for the face bonus.

The detector sits behind a small interface so a stronger model (insightface, a DNN) can
replace OpenCV's Haar cascade without touching the pipeline.

Example:
    >>> detector = make_face_detector(FacesConfig())
    >>> boxes = detector.detect(batch_uint8)   # one list of (x, y, w, h) per image
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import cv2
import numpy as np
import torch

from .config import FacesConfig
from .errors import ModelError
from .results import Box

__all__ = ["FACE_DETECTORS", "FaceDetector", "HaarFaceDetector", "make_face_detector"]


class FaceDetector(ABC):
    """Finds faces in (N, 3, H, W) uint8 RGB images."""

    @abstractmethod
    def detect(self, images: torch.Tensor) -> list[list[Box]]:
        """One list of (x, y, width, height) boxes per image, in that image's pixels."""


class HaarFaceDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade, shipped with opencv-python-headless.

    Args:
        min_size: Smallest face, as a fraction of the frame's shorter side.
        work_size: Frames are searched with at most this shorter side. Haar cost grows with
            pixels, and at 360 the smallest face (7 % of 360 = 25 px) still fills the cascade's
            24 px window.
        scale_factor: Step between the cascade's search scales; 1.2 halves the cost of 1.1.
    """

    def __init__(self, min_size: float = 0.07, work_size: int = 360, scale_factor: float = 1.2):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelError(f"cannot load OpenCV's face cascade from {path}; reinstall opencv-python-headless")
        self._min_size = min_size
        self._work_size = work_size
        self._scale_factor = scale_factor

    def detect(self, images: torch.Tensor) -> list[list[Box]]:
        arrays = images.permute(0, 2, 3, 1).cpu().numpy()
        return [self._detect_one(a) for a in arrays]

    def _detect_one(self, rgb: np.ndarray) -> list[Box]:
        height, width = rgb.shape[:2]
        scale = min(1.0, self._work_size / min(height, width))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        side = max(1, round(min(gray.shape) * self._min_size))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self._scale_factor, minNeighbors=5, minSize=(side, side)
        )
        return [tuple(int(round(v / scale)) for v in box) for box in found]  # type: ignore[misc]


FACE_DETECTORS: dict[str, Callable[[FacesConfig], FaceDetector]] = {
    "haar": lambda cfg: HaarFaceDetector(min_size=cfg.min_size),
}
"""Detector names accepted by ``faces.detector``."""


def make_face_detector(cfg: FacesConfig) -> FaceDetector:
    """Build the configured face detector."""
    return FACE_DETECTORS[cfg.detector](cfg)
