"""The frozen result types every stage and caller shares.

They check their own invariants and never print pixel arrays in their repr, so a ``Result``
can be logged or printed safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Box", "Pick", "Result", "Shot", "Stats"]

Box = tuple[int, int, int, int]
"""A face box as (x, y, width, height) in pixels of the upright frame."""


@dataclass(frozen=True)
class Shot:
    """A shot between two cuts, in seconds from the start of the video."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"Shot needs 0 <= start <= end, got {self.start}, {self.end}")


@dataclass(frozen=True)
class Pick:
    """One chosen thumbnail."""

    rank: int
    """1 is the best."""
    t: float
    """Presentation time in seconds."""
    score: float
    """Final score: CLIP score plus the face bonus."""
    shot: int
    """Index into ``Result.shots``."""
    clip: float
    """max(positive similarity) - mean(negative similarity)."""
    sharpness: float
    """Variance of the Laplacian at the analysis size."""
    brightness: float
    """Mean luma, 0-255."""
    faces: tuple[Box, ...]
    """Face boxes found in the frame."""
    fallback: bool
    """True when no candidate passed the blur/exposure filters and this is the best of the rest."""
    image: np.ndarray = field(repr=False, compare=False)
    """The upright RGB frame, (H, W, 3) uint8."""
    path: str | None = None
    """Where the thumbnail was written, once it was."""

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"Pick.rank starts at 1, got {self.rank}")
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Pick.image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")

    @property
    def face(self) -> bool:
        """Whether at least one face was found."""
        return bool(self.faces)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the pixels."""
        return {
            "rank": self.rank,
            "t": round(self.t, 4),
            "path": self.path,
            "score": round(self.score, 6),
            "shot": self.shot,
            "fallback": self.fallback,
            "components": {
                "clip": round(self.clip, 6),
                "sharpness": round(self.sharpness, 3),
                "brightness": round(self.brightness, 3),
                "face": self.face,
                "faces": [list(b) for b in self.faces],
            },
        }


@dataclass(frozen=True)
class Stats:
    """What the run did and where the time went."""

    frames_decoded: int
    candidates: int
    scored: int
    rejected_blurry: int
    rejected_exposure: int
    corrupt_packets: int
    truncated: bool
    """The stream ended well before the container said it would, or on a read error."""
    peak_frames_held: int
    """Most full-resolution frames alive at once (pending, queued and pooled)."""
    timings: Mapping[str, float]
    """Seconds per stage."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "frames_decoded": self.frames_decoded,
            "candidates": self.candidates,
            "scored": self.scored,
            "rejected_blurry": self.rejected_blurry,
            "rejected_exposure": self.rejected_exposure,
            "corrupt_packets": self.corrupt_packets,
            "truncated": self.truncated,
            "peak_frames_held": self.peak_frames_held,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Result:
    """Everything a run found: the video's shape, its shots and the picks, best first."""

    video: str | None
    duration: float
    fps: float
    width: int
    height: int
    shots: tuple[Shot, ...]
    picks: tuple[Pick, ...]
    stats: Stats
    requested: int = 0
    """How many picks were asked for (``select.k``); 0 when unknown."""
    shortfall: str | None = None
    """Why there are fewer picks than ``requested``; None when there are not."""

    def __post_init__(self) -> None:
        ranks = [p.rank for p in self.picks]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError(f"Result.picks must be ranked 1..n in order, got {ranks}")
        if (self.shortfall is not None) != (len(self.picks) < self.requested):
            raise ValueError(
                f"Result.shortfall must explain exactly the picks missing: {len(self.picks)} of {self.requested}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document the CLI prints with ``--json``."""
        return {
            "video": self.video,
            "duration": round(self.duration, 4),
            "fps": round(self.fps, 4),
            "width": self.width,
            "height": self.height,
            "shots": [{"start": round(s.start, 4), "end": round(s.end, 4)} for s in self.shots],
            "requested": self.requested,
            "shortfall": self.shortfall,
            "picks": [p.to_dict() for p in self.picks],
            "stats": self.stats.to_dict(),
        }
