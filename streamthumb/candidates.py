"""Decide which decoded frames become candidates: one per shot, plus uniform samples.

Frames are held back in a short window until the shot detector can no longer report a cut
before them; only then is a frame's shot known, and only then is it decided. The window is
a fixed number of frames, so memory does not grow with the video. Each candidate leaves as a
``Candidate`` record carrying the shot detector's content change of the frames around it.

Example:
    >>> planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    >>> planner.add_cuts([12.48])
    >>> ready = planner.push(index=400, t=16.0, frame=frame, content=2.5)   # leaving the window
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import CandidatesConfig
from .decode import Frame
from .record import Candidate
from .results import Origin

__all__ = ["CONTEXT_FRAMES", "CandidatePlanner"]

_EPS = 1e-4
"""Seconds; cut times round-trip through microsecond timecodes."""
CONTEXT_FRAMES = 12
"""Frames of content change kept on each side of a candidate: half a second at 25 fps, enough
to see the ramp of a fade or a dissolve."""


@dataclass(frozen=True)
class _Held:
    index: int
    t: float
    frame: Frame = field(repr=False)
    content: float = math.nan


class CandidatePlanner:
    """Streams frames in, candidates out, holding at most ``lookahead`` frames.

    Args:
        cfg: Offsets and sampling intervals.
        lookahead: Frames to hold before deciding; must cover the shot detector's latency
            plus ``shot_offset`` worth of frames.
        every_frame: Make every frame a candidate (keyframe mode decodes only keyframes).
    """

    def __init__(self, cfg: CandidatesConfig, lookahead: int, *, every_frame: bool = False):
        self._cfg = cfg
        self._lookahead = max(1, lookahead)
        self._every_frame = every_frame
        self._held: deque[_Held] = deque()
        self._past: deque[float] = deque(maxlen=CONTEXT_FRAMES)
        self._cuts: list[float] = []
        self._shot = -1
        self._shot_target = -1
        self._shot_target_t = 0.0
        self._last_in_shot: float | None = None
        self._next_uniform = cfg.every
        self._finished = False

    @property
    def cuts(self) -> Sequence[float]:
        """Cut times reported so far, sorted."""
        return self._cuts

    @property
    def held(self) -> int:
        """Frames currently held back."""
        return len(self._held)

    def add_cuts(self, times: Sequence[float]) -> None:
        """Record cuts from the shot detector; they may lie in the past."""
        for t in times:
            if t > _EPS:  # a "cut" at the very first frame starts shot 0, it splits nothing
                bisect.insort(self._cuts, t)

    def push(self, index: int, t: float, frame: Frame, content: float = math.nan) -> list[Candidate]:
        """Hold a frame with its content change; return the candidates among frames that left the window."""
        self._held.append(_Held(index, t, frame, content))
        out: list[Candidate] = []
        while len(self._held) > self._lookahead:
            self._decide(self._held.popleft(), out)
        return out

    def finish(self) -> list[Candidate]:
        """Decide every frame still held; call after the last cut was added."""
        self._finished = True
        out: list[Candidate] = []
        while self._held:
            self._decide(self._held.popleft(), out)
        return out

    def shot_of(self, t: float) -> int:
        """Index of the shot containing time ``t``."""
        return bisect.bisect_right(self._cuts, t + _EPS)

    def _decide(self, item: _Held, out: list[Candidate]) -> None:
        shot = self.shot_of(item.t)
        if shot != self._shot:
            self._shot = shot
            target = self._plan_shot(item, shot)
            self._shot_target, self._shot_target_t = target.index, target.t
            self._last_in_shot = None
        reason: Origin | None = None
        if self._every_frame:
            reason = "keyframe"
        elif item.index == self._shot_target:
            reason = "shot"
        elif self._cfg.every > 0 and item.t + _EPS >= self._next_uniform:
            reason = None if self._near_other(item.t) else "uniform"
        if self._cfg.every > 0:
            while self._next_uniform <= item.t + _EPS:
                self._next_uniform += self._cfg.every
        if reason is not None:
            self._last_in_shot = item.t
            out.append(self._candidate(item, shot, reason))
        self._past.append(item.content)

    def _candidate(self, item: _Held, shot: int, origin: Origin) -> Candidate:
        after = [h.content for h, _ in zip(self._held, range(CONTEXT_FRAMES), strict=False)]
        motion = (*self._past, item.content, *after)
        return Candidate(item.index, item.t, shot, origin, item.frame, motion=motion, motion_at=len(self._past))

    def _near_other(self, t: float) -> bool:
        """Whether a uniform sample at ``t`` duplicates this shot's earlier or planned candidate."""
        gap = self._cfg.dedupe_gap
        if self._last_in_shot is not None and t - self._last_in_shot < gap:
            return True
        return t < self._shot_target_t and self._shot_target_t - t < gap

    def _plan_shot(self, first: _Held, shot: int) -> _Held:
        """Pick the frame ``shot_offset`` after the shot's start, or its middle if it is shorter."""
        end = self._cuts[shot] if shot < len(self._cuts) else None
        frames = [first] + [h for h in self._held if end is None or h.t + _EPS < end]
        target = first.t + self._cfg.shot_offset
        for h in frames:
            if h.t + _EPS >= target:
                return h
        if end is not None or self._finished:
            return frames[len(frames) // 2]  # the whole (short) shot is in view
        return frames[-1]  # window shorter than the offset: latest frame we can still take
