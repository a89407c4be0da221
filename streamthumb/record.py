"""One record per candidate, from the moment a frame becomes a candidate to the end of the run.

Every stage adds to the same record: the planner sets its time, shot and origin and the
window of shot-detector scores around it, the filters add signals and verdicts, the scorer
adds the CLIP score and the embedding, the face search adds faces, and the selector sets its
fate. Nobody copies ``t`` and ``shot`` into a new type, so "why not this frame?" always has
an answer: reports, JSON and summaries read ``Candidate.info()``.

The record is mutable on purpose: it is handed from stage to stage (planner, queue, scoring
thread, selector) and only one thread holds it at a time. What leaves the pipeline is the
frozen ``CandidateInfo`` snapshot.

Example:
    >>> cand = Candidate(index=400, t=16.0, shot=3, origin="uniform", frame=frame)
    >>> cand.measure("sharpness", 412.0)
    >>> cand.judge(Verdict("sharpness", True, "blurry", 412.0, 40.0))
    >>> cand.info().signals["sharpness"]
    412.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .decode import Frame, upright_size
from .results import Box, CandidateInfo, Fate, Origin, Verdict

__all__ = ["Candidate"]


@dataclass(eq=False)
class Candidate:
    """A frame chosen for scoring, and everything the pipeline learns about it."""

    index: int
    """Position in the decoded stream, from 0."""
    t: float
    """Presentation time in seconds."""
    shot: int
    origin: Origin
    """Why it became a candidate: a shot's start, a uniform sample or a keyframe."""
    frame: Frame | None = field(default=None, repr=False)
    """The decoded frame; converted to full-resolution RGB only if it is picked. Released
    (None) once the candidate can no longer be picked."""
    view: Any = field(default=None, repr=False)
    """The (3, h, w) uint8 analysis-size tensor the filters and models see; released with
    ``frame``."""
    signals: dict[str, float] = field(default_factory=dict)
    """Measured values by name: sharpness, brightness, clip, face, ..."""
    verdicts: list[Verdict] = field(default_factory=list)
    embedding: Any = field(default=None, repr=False)
    """The scorer's (D,) unit-norm image embedding, when it gives one."""
    picture: Box | None = None
    """Where the picture lies in the upright frame (full-resolution pixels) when black bars
    around it were trimmed; None when the picture is the whole frame."""
    faces: tuple[Box, ...] | None = None
    """Face boxes in full-resolution pixels of the picture (the upright frame, less any bars);
    None until searched."""
    score: float = math.nan
    """The final score the selector ranks by; NaN until scored."""
    fate: Fate = "pending"
    fate_detail: str | None = None
    """Who or what decided the fate, e.g. ``within 2 s of pick 1``."""
    rank: int | None = None
    thumb: Any = field(default=None, repr=False)
    """A small (h, w, 3) uint8 RGB numpy copy, kept past ``release`` for reports, when asked."""

    @property
    def passed(self) -> bool:
        """Whether every filter passed it."""
        return all(v.passed for v in self.verdicts)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reasons of the failed verdicts, in filter order, each once (two filters may both
        say ``blurry``)."""
        return tuple(dict.fromkeys(v.reason for v in self.verdicts if not v.passed))

    def measure(self, name: str, value: float) -> None:
        """Record a measured signal."""
        self.signals[name] = float(value)

    def judge(self, verdict: Verdict) -> None:
        """Record a filter's verdict."""
        self.verdicts.append(verdict)

    def decide(self, fate: Fate, detail: str | None = None, *, rank: int | None = None) -> None:
        """Set the fate; a later stage may overrule an earlier one (a fallback gets picked)."""
        self.fate, self.fate_detail, self.rank = fate, detail, rank

    def picture_size(self) -> tuple[int, int]:
        """(width, height) of the picture in full-resolution pixels: the frame less any bars."""
        if self.picture is not None:
            return self.picture[2], self.picture[3]
        assert self.frame is not None, "the picture's size is known while the frame is held"
        return upright_size(self.frame)

    def release(self) -> None:
        """Drop the pixels: the record stays for the report, the frame's memory goes."""
        self.frame = None
        self.view = None
        self.embedding = None

    def info(self) -> CandidateInfo:
        """The frozen snapshot results carry."""
        return CandidateInfo(
            t=self.t,
            shot=self.shot,
            origin=self.origin,
            score=self.score,
            signals=dict(self.signals),
            verdicts=tuple(self.verdicts),
            faces=self.faces or (),
            picture=self.picture,
            fate=self.fate,
            fate_detail=self.fate_detail,
            rank=self.rank,
            thumb=self.thumb,
        )
