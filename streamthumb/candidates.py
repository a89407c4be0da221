"""Decide which decoded frames become candidates: one per shot, plus uniform samples.

Frames are held back in a short window until the shot detector can no longer report a cut
before them; only then is a frame's shot known, and only then is it decided. The window is
a fixed number of frames, so memory does not grow with the video. Each candidate leaves as a
``Candidate`` record carrying the shot detector's per-frame numbers around it, and the
transition signals measured from them, so fades and dissolves are caught with no second pass:

- ``cut_gap``: seconds to the nearest cut, on either side;
- ``dissolve``: the frame's luma spread over the smaller of the highest spreads before and after
  it in its shot. Two uncorrelated pictures averaged have about 0.7 of their spread, so a frame
  inside a dissolve sits in a dip, where a pan or a zoom keeps its spread;
- ``spread_slope``: how fast the luma spread changes across the frame (relative change over a
  fifth of a second each way, same shot). A dissolve between pictures of unequal spread is a
  ramp with no dip; pans and zooms keep their spread within a few percent;
- ``fade``: the frame's luma spread over the highest in its window, when the window reaches
  near-black in the same shot: a fade is a ramp from or to black.

Example:
    >>> planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    >>> planner.add_cuts([12.48])
    >>> ready = planner.push(index=400, t=16.0, frame=frame, stats=ShotUpdate([], 2.5, 120, 40))
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
from .shots import ShotUpdate

__all__ = ["BLACK_LUMA", "CandidatePlanner"]

_EPS = 1e-4
"""Seconds; cut times round-trip through microsecond timecodes."""
BLACK_LUMA = 30.0
"""Mean luma under which a frame counts as the black end of a fade."""


@dataclass(frozen=True)
class _Held:
    index: int
    t: float
    frame: Frame = field(repr=False)
    stats: ShotUpdate = field(default_factory=ShotUpdate)


@dataclass(frozen=True)
class _Seen:
    """A decided frame's numbers, kept for the windows of the candidates after it."""

    shot: int
    stats: ShotUpdate


class CandidatePlanner:
    """Streams frames in, candidates out, holding at most ``lookahead`` frames.

    Args:
        cfg: Offsets and sampling intervals.
        lookahead: Frames to hold before deciding; must cover the shot detector's latency
            plus ``shot_offset`` worth of frames.
        every_frame: Make every frame a candidate (keyframe mode decodes only keyframes).
        context: Frames on each side of a candidate that its transition signals look at
            (about a second); the future side is capped by ``lookahead``.
        every: Overrides ``cfg.every``, e.g. to sample a short video densely.
    """

    def __init__(
        self,
        cfg: CandidatesConfig,
        lookahead: int,
        *,
        every_frame: bool = False,
        context: int = 25,
        every: float | None = None,
    ):
        self._cfg = cfg
        self._every = cfg.every if every is None else every
        self._gap = min(cfg.dedupe_gap, self._every / 2) if self._every > 0 else cfg.dedupe_gap
        self._lookahead = max(1, lookahead)
        self._every_frame = every_frame
        self._context = context
        self._held: deque[_Held] = deque()
        self._past: deque[_Seen] = deque(maxlen=context)
        self._cuts: list[float] = []
        self._shot = -1
        self._shot_target = -1
        self._shot_target_t = 0.0
        self._last_in_shot: float | None = None
        self._next_uniform = self._every
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

    def push(self, index: int, t: float, frame: Frame, stats: ShotUpdate | None = None) -> list[Candidate]:
        """Hold a frame with the shot detector's numbers for it; return candidates leaving the window."""
        self._held.append(_Held(index, t, frame, stats or ShotUpdate()))
        out: list[Candidate] = []
        while len(self._held) > self._lookahead:
            self._decide(self._held.popleft(), out)
        return out

    def drop(self) -> None:
        """Let go of every frame held, deciding nothing: the stream was abandoned."""
        self._held.clear()

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
        elif self._every > 0 and item.t + _EPS >= self._next_uniform:
            reason = None if self._near_other(item.t) else "uniform"
        if self._every > 0:
            while self._next_uniform <= item.t + _EPS:
                self._next_uniform += self._every
        if reason is not None:
            self._last_in_shot = item.t
            out.append(self._candidate(item, shot, reason))
        self._past.append(_Seen(shot, item.stats))

    def _candidate(self, item: _Held, shot: int, origin: Origin) -> Candidate:
        after = [_Seen(self.shot_of(h.t), h.stats) for h, _ in zip(self._held, range(self._context), strict=False)]
        window = (*self._past, _Seen(shot, item.stats), *after)
        cand = Candidate(item.index, item.t, shot, origin, item.frame)
        if not self._every_frame:  # keyframes lie seconds apart, often on the cut: nothing to read
            cand.measure("cut_gap", self._cut_gap(item.t))
            same = [w.stats for w in window if w.shot == shot]
            before = [w.stats for w in self._past if w.shot == shot]
            later = [w.stats for w in after if w.shot == shot]
            cand.measure("dissolve", _dip(item.stats, before, later))
            cand.measure("spread_slope", _slope(item.stats, before, later, max(1, self._context // 5)))
            cand.measure("fade", _fade(item.stats, same))
        return cand

    def _cut_gap(self, t: float) -> float:
        """Seconds from ``t`` to the nearest known cut; inf when none is known."""
        i = bisect.bisect_left(self._cuts, t)
        near = self._cuts[max(0, i - 1) : i + 1]
        return min((abs(c - t) for c in near), default=math.inf)

    def _near_other(self, t: float) -> bool:
        """Whether a uniform sample at ``t`` duplicates this shot's earlier or planned candidate."""
        gap = self._gap
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


def _dip(own: ShotUpdate, before: Sequence[ShotUpdate], later: Sequence[ShotUpdate]) -> float:
    """Own spread over the smaller of the highest spreads on each side; 1 with no dip."""
    if not before or not later:
        return 1.0
    edge = min(max(s.spread for s in before), max(s.spread for s in later))
    return min(1.0, own.spread / edge) if edge > 0 else 1.0


def _slope(own: ShotUpdate, before: Sequence[ShotUpdate], later: Sequence[ShotUpdate], step: int) -> float:
    """Relative change of spread from ``step`` frames before to ``step`` after; 0 without both."""
    if len(before) < step or len(later) < step:
        return 0.0
    change = abs(later[step - 1].spread - before[-step].spread)
    return change / max(own.spread, 1.0) if change == change else 0.0  # NaN: no numbers given


def _fade(own: ShotUpdate, window: Sequence[ShotUpdate]) -> float:
    """Own spread over the window's highest, when the window reaches black; 1 otherwise."""
    if own.luma < BLACK_LUMA or not any(s.luma < BLACK_LUMA for s in window):
        return 1.0  # a black frame itself is the exposure filter's to reject
    top = max(s.spread for s in window)
    return min(1.0, own.spread / top) if top > 0 else 1.0
