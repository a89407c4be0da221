"""The frozen result types every stage and caller shares.

They check their own invariants and never print pixel arrays in their repr, so a ``Result``
can be logged or printed safely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "Box",
    "CandidateInfo",
    "Crop",
    "CropPlacement",
    "Fate",
    "Origin",
    "Pick",
    "SCHEMA_VERSION",
    "Result",
    "Shot",
    "Stats",
    "Verdict",
]

SCHEMA_VERSION = 1
"""Version of the JSON document ``Result.to_dict`` makes (``streamthumb schema`` prints its
JSON Schema): a change that could break a reader bumps it."""
Box = tuple[int, int, int, int]
"""A face box as (x, y, width, height) in pixels of the upright frame."""
Origin = Literal["shot", "uniform", "keyframe"]
"""Why a frame became a candidate: the start of a shot, a uniform sample, or a keyframe."""
Fate = Literal["pending", "rejected", "evicted", "outranked", "below_top_k", "picked"]
"""What became of a candidate: a filter rejected it; it was evicted from the streaming pool by
a better one; it lost a diversity conflict to a pick; it was pooled but not among the top K;
or it was picked."""
CropPlacement = Literal["faces", "detail", "centre"]
"""What placed a crop window: the detected faces, the frame's most detailed region, or the
seed's rule (centred sideways, upper third vertically)."""


@dataclass(frozen=True)
class Verdict:
    """One filter's judgement of one candidate."""

    stage: str
    """The filter that judged, e.g. ``sharpness``."""
    passed: bool
    reason: str
    """What failing means, from the reasons vocabulary: ``blurry``, ``dark``, ``blown_out``, ..."""
    value: float
    """The measured value the decision rests on."""
    threshold: float
    """The configured limit it was compared with."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "stage": self.stage,
            "passed": self.passed,
            "reason": self.reason,
            "value": _round(self.value, 4),
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class CandidateInfo:
    """A frozen snapshot of one candidate's record: what was measured, judged and decided."""

    t: float
    shot: int
    origin: Origin
    score: float
    """The score the selector ranked by; NaN when it was rejected before scoring."""
    signals: Mapping[str, float]
    verdicts: tuple[Verdict, ...]
    faces: tuple[Box, ...]
    """Face boxes in full-resolution pixels of the picture."""
    fate: Fate
    fate_detail: str | None = None
    rank: int | None = None
    picture: Box | None = None
    """Where the picture lies in the upright frame when black bars were trimmed, else None."""
    thumb: np.ndarray | None = field(default=None, repr=False, compare=False)
    """A small (h, w, 3) uint8 RGB copy of the frame (about 120 px tall), kept only when asked
    (``keep_thumbs``), for reports."""

    @property
    def reasons(self) -> tuple[str, ...]:
        """Reasons of the failed verdicts, each once."""
        return tuple(dict.fromkeys(v.reason for v in self.verdicts if not v.passed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: one entry of ``--explain``'s ``candidates``."""
        return {
            "t": round(self.t, 4),
            "shot": self.shot,
            "origin": self.origin,
            "score": _round(self.score, 6),
            "signals": {k: _round(v, 6) for k, v in self.signals.items()},
            "verdicts": [v.to_dict() for v in self.verdicts],
            "faces": [list(b) for b in self.faces],
            "picture": None if self.picture is None else list(self.picture),
            "fate": self.fate,
            "fate_detail": self.fate_detail,
            "rank": self.rank,
        }


def _round(value: float, digits: int) -> float | None:
    """JSON has no NaN or infinity: a value never measured (NaN), or unbounded such as the
    distance to a cut in a video with none (inf), is null."""
    return None if not math.isfinite(value) else round(value, digits)


@dataclass(frozen=True)
class Shot:
    """A shot between two cuts, in seconds from the start of the video."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"Shot needs 0 <= start <= end, got {self.start}, {self.end}")


@dataclass(frozen=True)
class Crop:
    """One aspect-ratio crop of a pick: where its window lies in the frame and where it went."""

    ratio: str
    """The aspect ratio asked for, e.g. ``16:9``."""
    box: Box
    """The window as (x, y, width, height) in pixels of the pick's full-resolution upright frame."""
    placed_by: CropPlacement
    """What placed the window: ``faces``, ``detail`` or ``centre`` (the seed's rule)."""
    path: str | None = None
    """Where the cropped image was written, once it was."""

    def __post_init__(self) -> None:
        x, y, w, h = self.box
        if x < 0 or y < 0 or w < 1 or h < 1:
            raise ValueError(f"Crop.box is (x, y, width, height) with x, y >= 0 and sizes >= 1, got {self.box}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: one entry of a pick's ``crops``."""
        return {"ratio": self.ratio, "box": list(self.box), "path": self.path, "placed_by": self.placed_by}


@dataclass(frozen=True)
class Pick:
    """One chosen thumbnail: a view of its candidate's record, with the pixels."""

    rank: int
    """1 is the best."""
    candidate: CandidateInfo
    """Everything measured and judged about the frame."""
    fallback: bool
    """True when no candidate passed the filters and this is the best of the rest."""
    image: np.ndarray = field(repr=False, compare=False)
    """The upright RGB picture, (H, W, 3) uint8: the whole frame, or the part inside black
    bars (``candidate.picture`` says where)."""
    path: str | None = None
    """Where the thumbnail was written, once it was; with crops, the first crop's file."""
    crops: tuple[Crop, ...] = ()
    """One per ratio of ``output.crop``, in that order; empty when no crop was asked."""
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The scorer's (D,) unit-norm float32 image embedding, when it gives one: what a library
    run compares to find picks repeated across videos. Not in ``to_dict``."""

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"Pick.rank starts at 1, got {self.rank}")
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Pick.image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")
        height, width = self.image.shape[:2]
        for crop in self.crops:
            x, y, w, h = crop.box
            if x + w > width or y + h > height:
                raise ValueError(f"Pick.crops: {crop.ratio} box {crop.box} leaves the {width}x{height} frame")

    @property
    def t(self) -> float:
        """Presentation time in seconds."""
        return self.candidate.t

    @property
    def shot(self) -> int:
        """Index into ``Result.shots``."""
        return self.candidate.shot

    @property
    def score(self) -> float:
        """Final score: the scorer's score plus bonuses."""
        return self.candidate.score

    @property
    def clip(self) -> float:
        """The scorer's score: max(positive similarity) - mean(negative similarity) for CLIP."""
        return self.candidate.signals.get("clip", math.nan)

    @property
    def sharpness(self) -> float:
        """Variance of the Laplacian at the analysis size."""
        return self.candidate.signals.get("sharpness", math.nan)

    @property
    def brightness(self) -> float:
        """Mean luma, 0-255."""
        return self.candidate.signals.get("brightness", math.nan)

    @property
    def faces(self) -> tuple[Box, ...]:
        """Face boxes found in the picture, in ``image``'s pixels."""
        return self.candidate.faces

    @property
    def face(self) -> bool:
        """Whether at least one face was found."""
        return bool(self.faces)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the pixels."""
        components: dict[str, Any] = {k: _round(v, 6) for k, v in self.candidate.signals.items()}
        components.update(face=self.face, faces=[list(b) for b in self.faces])
        return {
            "rank": self.rank,
            "t": round(self.t, 4),
            "path": self.path,
            "score": _round(self.score, 6),
            "shot": self.shot,
            "origin": self.candidate.origin,
            "fallback": self.fallback,
            "components": components,
            "crops": [c.to_dict() for c in self.crops],
        }


@dataclass(frozen=True)
class Stats:
    """What the run did and where the time went."""

    frames_decoded: int
    candidates: int
    scored: int
    rejected: Mapping[str, int]
    """Candidates rejected, per reason (``blurry``, ``dark``, ...); one candidate failing two
    filters counts under both."""
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
            "rejected": dict(sorted(self.rejected.items())),
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
    candidates: tuple[CandidateInfo, ...] = field(default=(), repr=False)
    """Every candidate in time order, with its signals, verdicts and fate."""
    provenance: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """What made it (``streamthumb.provenance``): version, scorer and weights, config and its hash."""

    def __post_init__(self) -> None:
        ranks = [p.rank for p in self.picks]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError(f"Result.picks must be ranked 1..n in order, got {ranks}")
        if (self.shortfall is not None) != (len(self.picks) < self.requested):
            raise ValueError(
                f"Result.shortfall must explain exactly the picks missing: {len(self.picks)} of {self.requested}"
            )

    def to_dict(self, *, explain: bool = False) -> dict[str, Any]:
        """The JSON document the CLI prints with ``--json``; ``explain`` adds every candidate."""
        doc = {
            "schema_version": SCHEMA_VERSION,
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
            "provenance": dict(self.provenance),
        }
        if explain:
            doc["candidates"] = [c.to_dict() for c in self.candidates]
        return doc
