"""Shot-cut detection fed from our own decode loop, so the file is decoded once.

PySceneDetect's detectors do the work; this module only adapts them to frames that arrive
one at a time with a timestamp in seconds, and says how far behind the stream a cut may be
reported (``latency``) so the candidate stage knows how long to hold frames back.

Each ``process`` call returns a ``ShotUpdate``: the cuts found so far and the frame's own
content change, the per-frame signal the candidate planner keeps around each candidate so
fades and dissolves (a ramp of moderate changes, not one spike) can be told apart later.

Example:
    >>> detector = make_shot_detector(ShotsConfig(), fps=25.0)
    >>> update = detector.process(small_bgr_frame, t=1.24)
    >>> update.cuts, update.content                        # [] and 3.1, say
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, SceneDetector
from scenedetect.common import FrameTimecode, Timecode

from .config import ShotsConfig

__all__ = [
    "SHOT_DETECTORS",
    "SceneDetectShots",
    "ShotDetector",
    "ShotUpdate",
    "analysis_size",
    "luma_stats",
    "make_shot_detector",
]

_MICROS = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class ShotUpdate:
    """What the detector learned from one frame."""

    cuts: list[float] = field(default_factory=list)
    """Times of cuts found so far, possibly in the past."""
    content: float = math.nan
    """The frame's content change from the previous frame, on the detector's scale (NaN for
    the first frame, or a detector that has no such score)."""
    luma: float = math.nan
    """Mean luma (0-255) of the small frame: a fade is a ramp in it."""
    spread: float = math.nan
    """Standard deviation of luma of the small frame: it dips in the middle of a dissolve,
    where two uncorrelated pictures average out."""


class ShotDetector(ABC):
    """Finds cuts in a stream of small BGR frames, one frame at a time, in order."""

    latency: int = 0
    """Frames after a cut before it is guaranteed to have been reported."""

    @abstractmethod
    def process(self, frame: np.ndarray, t: float) -> ShotUpdate:
        """Feed the next frame; return the cuts found so far and the frame's content change."""

    def finish(self, t: float) -> list[float]:
        """Report cuts still held back once the last frame (at ``t``) was processed."""
        return []


class SceneDetectShots(ShotDetector):
    """Any PySceneDetect ``SceneDetector`` driven with our timestamps.

    Args:
        detector: A configured PySceneDetect detector.
        fps: Nominal frame rate; PySceneDetect measures ``min_scene_len`` in frames with it.
    """

    def __init__(self, detector: SceneDetector, fps: float):
        self._detector = detector
        self._fps = Fraction(fps).limit_denominator(1001)
        self.latency = detector.event_buffer_length + 1

    def _timecode(self, t: float) -> FrameTimecode:
        # Timecode-backed positions keep exact times for variable-frame-rate sources.
        return FrameTimecode(Timecode(pts=round(t * 1_000_000), time_base=_MICROS), fps=self._fps)

    def process(self, frame: np.ndarray, t: float) -> ShotUpdate:
        cuts = [cut.seconds for cut in self._detector.process_frame(self._timecode(t), frame)]
        # PySceneDetect keeps the last frame's score only in this attribute (0.6 to 0.7).
        score = getattr(self._detector, "_frame_score", None)
        luma, spread = luma_stats(frame)
        return ShotUpdate(cuts, math.nan if score is None else float(score), luma, spread)

    def finish(self, t: float) -> list[float]:
        return [cut.seconds for cut in self._detector.post_process(self._timecode(t))]


class _OneDiffContent(ContentDetector):
    """PySceneDetect's HSV frame score, computed with one ``absdiff`` and one ``sumElems``.

    ``ContentDetector`` splits the HSV frame into three planes and takes each plane's mean
    absolute difference through int32 numpy copies: 0.17 ms a 256-pixel frame, on every frame
    of the video. ``absdiff`` and ``sumElems`` over the three-channel frame give the same three
    exact integer sums, divided the same way, in 0.01 ms: the same scores to the bit. The cut
    decision (threshold, flash filter, adaptive window) stays PySceneDetect's. Edge deltas and
    a stats manager take PySceneDetect's own path.
    """

    _last_hsv: np.ndarray | None = None

    def _calculate_frame_score(self, timecode: FrameTimecode, frame_img: np.ndarray) -> float:
        weights = self._weights
        if weights.delta_edges > 0.0 or self.stats_manager is not None:
            return super()._calculate_frame_score(timecode, frame_img)
        hsv = cv2.cvtColor(frame_img, cv2.COLOR_BGR2HSV)
        last, self._last_hsv = self._last_hsv, hsv
        if last is None:
            return 0.0
        pixels = float(hsv.shape[0] * hsv.shape[1])
        hue, sat, lum, _ = (total / pixels for total in cv2.sumElems(cv2.absdiff(hsv, last)))  # cv2.mean: 10x slower
        score = hue * weights.delta_hue + sat * weights.delta_sat + lum * weights.delta_lum
        return float(score / sum(abs(w) for w in weights))


class _OneDiffAdaptive(_OneDiffContent, AdaptiveDetector):
    """``AdaptiveDetector``, which scores frames as ``ContentDetector`` does, with the one-pass score."""


def _content(cfg: ShotsConfig, min_scene_len: int) -> SceneDetector:
    return _OneDiffContent(threshold=cfg.threshold, min_scene_len=min_scene_len)


def _adaptive(cfg: ShotsConfig, min_scene_len: int) -> SceneDetector:
    return _OneDiffAdaptive(adaptive_threshold=cfg.adaptive_threshold, min_scene_len=min_scene_len)


SHOT_DETECTORS: dict[str, Callable[[ShotsConfig, int], SceneDetector]] = {
    "content": _content,
    "adaptive": _adaptive,
}
"""Detector names accepted by ``shots.detector``."""


def make_shot_detector(cfg: ShotsConfig, fps: float, *, min_scene_len: int | None = None) -> ShotDetector:
    """Build the configured detector; ``min_scene_len`` overrides the config (keyframe mode)."""
    length = cfg.min_scene_len if min_scene_len is None else min_scene_len
    return SceneDetectShots(SHOT_DETECTORS[cfg.detector](cfg, length), fps)


def luma_stats(frame: np.ndarray) -> tuple[float, float]:
    """Mean and spread of a small BGR frame's green plane (a close stand-in for luma).

    Every second pixel of every second row is enough for two numbers; OpenCV keeps this at
    about 6 microseconds a frame (numpy: 60) beside the detector's own 0.3 ms.
    """
    mean, std = cv2.meanStdDev(np.ascontiguousarray(frame[::2, ::2, 1]))
    return float(mean[0, 0]), float(std[0, 0])


def analysis_size(width: int, height: int, min_width: int) -> tuple[int, int]:
    """The size PySceneDetect's auto-downscale would use, so our cuts match its ``detect()``."""
    if width < min_width:
        return width, height
    factor = width / float(min_width)
    return max(1, round(width / factor)), max(1, round(height / factor))
