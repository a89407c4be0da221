"""The per-stream pipeline, synchronous: frames in, candidate records out, then picks.

``StreamPipeline`` holds one stream's state and does its work in two halves, each called by
one thread. ``push`` runs on the caller's thread for every frame and does only cheap work (the
shot detector's small copy, the candidate decision, the analysis view of candidates).
``evaluate`` runs on a batch of candidates: filters, the scorer, bonuses where they could
matter, and the selector. ``Picker`` (``picker.py``) runs the two halves on two threads with a
bounded queue between them; a test or a caller may also call them in turn on one thread.

Example:
    >>> pipe = StreamPipeline(config, fps=25.0, submit=engine.submit)
    >>> for frame, t in frames:
    ...     batch += pipe.push(frame, t)
    >>> pipe.evaluate(batch + pipe.flush())
    >>> result = pipe.finish()
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from .borders import find_picture, to_frame
from .candidates import CandidatePlanner
from .config import Config, SelectConfig
from .decode import Frame, analysis_view, frame_size, keep, small_bgr, to_rgb, upright_size
from .engine import Scores
from .events import CandidateJudged, EventCallback, Progress
from .filters import Bonus, Filter, Views, make_filters, measure_all, same_shape
from .quality import quality_terms, weighted
from .record import Candidate
from .results import Pick, Result, Shot, Stats, Verdict
from .select import GreedySelector
from .shots import analysis_size, make_shot_detector

__all__ = ["SourceStats", "StreamPipeline", "SubmitFn"]

_SHORT_GAP = 1.0
"""Seconds: the closest two picks of a short video may be."""
SubmitFn = Callable[[torch.Tensor], Future[Scores]]
"""Queues (N, 3, H, W) uint8 views for scoring: an ``InferenceEngine``'s ``submit``."""


@dataclass(frozen=True)
class SourceStats:
    """What the frame source and the runner know that the pipeline cannot see."""

    corrupt_packets: int = 0
    truncated: bool = False
    """The demuxer stopped on an error."""
    expected: float | None = None
    """The container's duration: a stream that ends well before it is flagged truncated."""
    peak_frames_held: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per stage spent outside the pipeline, such as ``model`` and ``decode``."""


class StreamPipeline:
    """One stream's shots, candidates, filters, scores and selection.

    Args:
        config: Pipeline settings.
        submit: Queues a batch of views that passed the filters for scoring on another thread.
        scorer_ready: False while the scores would wait for a model still loading.
        device: Where the filters run (the scorer's device).
        bonuses: Score bonuses, such as faces.
        fps: The stream's nominal frame rate.
        video: Name recorded in the result and the events.
        duration: The stream's length when the source knows it: short videos are sampled more
            densely, and progress events carry it.
        on_event: Receives ``Progress`` and ``CandidateJudged`` events.
        keep_thumbs: Keep a small copy of every candidate (``CandidateInfo.thumb``) for a report.
    """

    def __init__(
        self,
        config: Config,
        *,
        submit: SubmitFn,
        scorer_ready: Callable[[], bool] = lambda: True,
        device: torch.device,
        bonuses: Sequence[Bonus] = (),
        fps: float = 25.0,
        video: str | None = None,
        duration: float | None = None,
        on_event: EventCallback | None = None,
        keep_thumbs: bool = False,
    ):
        self.config = cfg = config
        self.fps = fps if fps and fps > 0 else 25.0
        self.video = video
        self._submit, self._device, self._on_event = submit, device, on_event
        self._scorer_ready = scorer_ready
        self._filters: list[Filter] = make_filters(cfg)
        self._bonuses = list(bonuses)
        keyframes = cfg.decode.sampling == "keyframes"
        self._shots = make_shot_detector(cfg.shots, self.fps, min_scene_len=0 if keyframes else None)
        # Hold frames until the detector can no longer report a cut before them, plus the offset.
        offset_frames = 0 if keyframes else math.ceil(cfg.candidates.shot_offset * self.fps) + 1
        lookahead = self._shots.latency + offset_frames + 1
        self._planner = CandidatePlanner(
            cfg.candidates, lookahead, every_frame=keyframes, context=round(self.fps), every=_every(cfg, duration)
        )
        select = _select_for(cfg, duration)
        self._bonus_max = sum(b.maximum for b in self._bonuses)
        self._bonus_min = sum(b.minimum for b in self._bonuses)
        # A costly bonus (Haar faces cost about one CLIP encode on a CPU) is searched lazily: the
        # pool ranks an unsearched candidate between the least and the most the bonuses can
        # make of it, searches only when an eviction depends on it, and the rest at the end.
        self.selector = GreedySelector(
            select, key=self._optimistic, lower=self._pessimistic, settle=self._apply_bonuses
        )
        self.fallback = GreedySelector(select, key=lambda c: c.signals.get("sharpness", 0.0))
        self.records: list[Candidate] = []
        self.frames = 0
        self.last_t = 0.0
        self.first_t = 0.0
        """The first frame's time: later than 0 for a trim (``decode.start``)."""
        self.duration_hint = duration
        self.timings: defaultdict[str, float] = defaultdict(float)
        """Seconds per stage on the caller's thread."""
        self.eval_timings: defaultdict[str, float] = defaultdict(float)
        """Seconds per stage on the evaluating thread; kept apart so two threads never share a dict."""
        self.rejected: Counter[str] = Counter()
        self.scored = 0
        self._small_size: tuple[int, int] | None = None
        self._shot_scaler = VideoReformatter()  # one per output size: each caches its context
        self._view_scaler = VideoReformatter()
        self._tone_map = cfg.decode.tone_map == "auto"  # PQ/HLG to SDR for views and picks
        self._keep_thumbs = keep_thumbs
        self.size: tuple[int, int] = (0, 0)

    @property
    def held(self) -> int:
        """Frames the planner holds back."""
        return self._planner.held

    # -- the caller's thread ---------------------------------------------------------------

    def push(self, frame: Frame, t: float) -> list[Candidate]:
        """One frame, already checked, with a time that never runs backwards; returns ready candidates."""
        if self._small_size is None:
            self.first_t = t
            self._small_size = analysis_size(*frame_size(frame), self.config.shots.analysis_width)
            self.size = upright_size(frame)
        start = time.perf_counter()
        update = self._shots.process(small_bgr(frame, *self._small_size, self._shot_scaler), t)
        self._planner.add_cuts(update.cuts)
        self.timings["shots"] += time.perf_counter() - start
        ready = self._with_views(self._planner.push(self.frames, t, keep(frame), update))
        self.frames += 1
        self.last_t = t
        if self._on_event is not None:
            self._on_event(Progress(self.video, t, self.duration_hint, self.frames))
        return ready

    def flush(self) -> list[Candidate]:
        """The candidates still held once the last frame was pushed."""
        self._planner.add_cuts(self._shots.finish(self.last_t))
        return self._with_views(self._planner.finish())

    def _with_views(self, ready: list[Candidate]) -> list[Candidate]:
        start = time.perf_counter()
        for cand in ready:
            assert cand.frame is not None
            cand.view = analysis_view(
                cand.frame, self.config.candidates.analysis_size, self._view_scaler, tone_map=self._tone_map
            )
            if self.config.candidates.trim_borders:
                _trim_borders(cand, self.config)
            if self._keep_thumbs:
                cand.thumb = _thumb(cand.view)
        self.records += ready
        self.timings["convert"] += time.perf_counter() - start
        return ready

    # -- the evaluating thread --------------------------------------------------------------

    def evaluate(self, batch: Sequence[Candidate]) -> None:
        """Filter a micro-batch on the device, score what passed, and offer it to the selector.

        The batch's views must share one shape (a resolution change starts a new batch).
        """
        start = time.perf_counter()
        images = torch.stack([c.view for c in batch]).to(self._device, non_blocking=True)
        views = Views(images, self.config.candidates.analysis_size)
        signals = {name: values.tolist() for name, values in measure_all(self._filters, views).items()}
        for i, cand in enumerate(batch):
            for name, values in signals.items():
                cand.measure(name, values[i])
            for f in self._filters:
                cand.judge(f.judge(cand.signals))
        self.eval_timings["filters"] += time.perf_counter() - start
        passed = [i for i, c in enumerate(batch) if c.passed]
        for cand in batch:
            if not cand.passed:
                self._reject(cand)
        if passed:
            self._score_and_offer([batch[i] for i in passed], views.images[passed])
        self._emit_judged(batch)

    def _optimistic(self, cand: Candidate) -> float:
        """The score, plus the most the bonuses can add while they have not run yet."""
        return cand.score + (self._bonus_max if cand.faces is None else 0.0)

    def _pessimistic(self, cand: Candidate) -> float:
        """The score, plus the least the bonuses can add (a penalty) while they have not run yet."""
        return cand.score + (self._bonus_min if cand.faces is None else 0.0)

    def _reject(self, cand: Candidate) -> None:
        cand.decide("rejected", ", ".join(cand.reasons))
        self.rejected.update(cand.reasons)
        for dropped in self.fallback.offer(cand):
            dropped.release()

    def _score_and_offer(self, cands: list[Candidate], images: torch.Tensor) -> None:
        pending = self._submit(images)
        early = self._search_while_scoring()
        if early:
            # The scorer works on another thread (or its model is still loading): the faces
            # searched now cost no wait, where later they would follow the scores.
            for cand in cands:
                cand.score = 0.0  # the bonuses add to it; the scores are added below
            self._apply_bonuses(cands)
        self._score_candidates(cands, pending, keep_bonuses=early)
        for cand in cands:
            for dropped in self.selector.offer(cand):
                dropped.release()

    def _search_while_scoring(self) -> bool:
        """Whether to search a batch's faces before its scores are in: while the
        model loads, and while the pool has room, since pooled candidates are searched at
        the end anyway (a later eviction spares a few at most, one pool's worth a video)."""
        if not self._bonuses:
            return False
        return not self._scorer_ready() or len(self.selector) < self.selector.capacity

    def _score_candidates(self, cands: list[Candidate], pending: Future[Scores], *, keep_bonuses: bool = False) -> None:
        """Wait for the scores, and add the quality terms; ``keep_bonuses``: the bonuses already
        in ``score`` stay."""
        start = time.perf_counter()
        scores, embeddings = pending.result()
        self.eval_timings["clip"] += time.perf_counter() - start
        self.scored += len(cands)
        for i, (cand, value) in enumerate(zip(cands, scores.tolist(), strict=True)):
            cand.measure("clip", value)
            terms = quality_terms(cand.signals)
            for name, term in terms.items():
                cand.measure(f"q_{name}", term)
            cand.score = value + weighted(terms, self.config.quality) + (cand.score if keep_bonuses else 0.0)
            cand.embedding = None if embeddings is None else embeddings[i]

    def _apply_bonuses(self, cands: Sequence[Candidate]) -> None:
        todo = [c for c in cands if c.faces is None]
        if not self._bonuses:
            for c in todo:
                c.faces = ()
            return
        start = time.perf_counter()
        for bonus in self._bonuses:
            bonus.apply(todo)
        self.eval_timings["faces"] += time.perf_counter() - start

    def _emit_judged(self, batch: Sequence[Candidate]) -> None:
        if self._on_event is not None:
            for cand in batch:
                self._on_event(CandidateJudged(self.video, cand.info()))

    # -- after both threads are done ---------------------------------------------------------

    def finish(self, duration: float | None = None, *, source: SourceStats | None = None) -> Result:
        """Choose the picks and build the result; call once both halves are done.

        Args:
            duration: The stream's length when the source knows it better than the frames
                pushed do (keyframe sampling sees only keyframes).
            source: What the frame source and the runner know: damage, frames held, timings.
        """
        start, evaluating = time.perf_counter(), sum(self.eval_timings.values())
        end = max(self.last_t + 1.0 / self.fps, duration or 0.0)
        shots = self._shot_list(end)
        self._reject_soft()
        self._apply_bonuses(self.selector.items)
        chosen = self.selector.choose(len(shots))
        fallback = not chosen
        if fallback:
            chosen = self._rescue(len(shots))
        picks = tuple(_to_pick(c, fallback, self._tone_map) for c in chosen)
        # Faces searched and frames scored here count in their own stages, not also in select.
        self.timings["select"] += time.perf_counter() - start - (sum(self.eval_timings.values()) - evaluating)
        result = self._result(end, shots, picks, source or SourceStats(), fallback=fallback)
        for cand in self.records:
            cand.release()
        return result

    def _result(
        self, end: float, shots: tuple[Shot, ...], picks: tuple[Pick, ...], source: SourceStats, *, fallback: bool
    ) -> Result:
        """The result of the stream up to ``end``, every candidate's record in it."""
        width, height = self.size
        return Result(
            video=self.video,
            duration=end,
            fps=self.fps,
            width=width,
            height=height,
            shots=shots,
            picks=picks,
            stats=self._stats(source, end),
            requested=self.config.select.k,
            shortfall=self._shortfall(len(picks), fallback),
            candidates=tuple(c.info() for c in list(self.records)),  # a copy: a snapshot runs beside push
        )

    def release(self) -> None:
        """Drop every frame this stream still holds (window, pool, records); after a cancel,
        the memory goes back even while the caller keeps the picker."""
        self._planner.drop()
        for cand in self.records:
            cand.release()

    def _reject_soft(self) -> None:
        """A pooled frame much softer than the sharpest pooled frame of its shot loses to it."""
        for cand, limit in self._soft():
            cand.judge(Verdict("blur", False, "soft", cand.signals["sharpness"], limit))
            self.selector.discard(cand)
            self._reject(cand)

    def _soft(self) -> list[tuple[Candidate, float]]:
        """(candidate, limit) of each pooled frame below ``soft_ratio`` of its shot's sharpest.

        Only pooled frames compare: a sharper frame already evicted cannot be picked, so it
        must not push its shot's last frames out.
        """
        enabled = self.config.filters.enabled
        if "blur" not in enabled or "sharpness" not in enabled:
            return []
        ratio, best = self.config.filters.blur.soft_ratio, defaultdict[int, float](float)
        pooled = self.selector.items
        for cand in pooled:
            best[cand.shot] = max(best[cand.shot], cand.signals["sharpness"])
        limits = [(cand, ratio * best[cand.shot]) for cand in pooled]
        return [(cand, limit) for cand, limit in limits if cand.signals["sharpness"] < limit]

    def snapshot(self) -> Result:
        """The picks the stream so far would give, on the evaluating thread, changing no fate.

        For live streams that want a result every N seconds: the pool's best under the same
        rules as ``finish`` (faces searched, soft frames left out), from the candidates
        evaluated so far. There is no fallback yet: a stream with no good frame so far gives
        no picks, and ``shortfall`` says so.
        """
        end = self.last_t + 1.0 / self.fps
        shots = self._shot_list(end)
        self._apply_bonuses(self.selector.items)
        soft = [cand for cand, _ in self._soft()]
        chosen = self.selector.preview(len(shots), exclude=soft)
        picks = tuple(_to_pick(c, False, self._tone_map, rank=rank) for rank, c in enumerate(chosen, start=1))
        return self._result(end, shots, picks, SourceStats(), fallback=False)

    def _rescue(self, num_shots: int) -> list[Candidate]:
        """Score the sharpest rejected candidates so even an all-blurry video gets thumbnails."""
        chosen = self.fallback.choose(num_shots)  # the sharpest, under the diversity rules
        for group in same_shape(chosen):
            self._score_candidates(group, self._submit(torch.stack([c.view for c in group]).to(self._device)))
            self._apply_bonuses(group)
        chosen.sort(key=lambda c: -c.score)
        for rank, cand in enumerate(chosen, start=1):
            cand.decide("picked", f"fallback: nothing passed; rejected as {', '.join(cand.reasons)}", rank=rank)
        return chosen

    def _shot_list(self, end: float) -> tuple[Shot, ...]:
        first = self.first_t
        bounds = [first, *(c for c in list(self._planner.cuts) if first < c < end), end]  # a copy: see snapshot
        return tuple(Shot(a, b) for a, b in zip(bounds, bounds[1:], strict=False))

    def _shortfall(self, found: int, fallback: bool) -> str | None:
        """Why fewer than ``k`` picks came out, in the words a user can act on."""
        k, cands, passed = self.config.select.k, len(self.records), sum(c.passed for c in self.records)
        if found >= k:
            return None
        if cands < k:
            return (
                f"the video gave only {cands} candidate frame{'s' if cands != 1 else ''} "
                f"(one per shot, plus one every {self.config.candidates.every:g} s)"
            )
        if fallback or passed < k:
            return f"only {passed} of {cands} candidates passed the filters"
        if any((c.fate_detail or "").startswith("duplicate") for c in self.records):
            return (
                f"the other candidates look like the picks (embedding similarity >= "
                f"select.max_similarity={self.config.select.max_similarity:g}) or are too close to them"
            )
        per_shot = " or in the same shot (select.one_per_shot)" if self.config.select.one_per_shot else ""
        return (
            f"the other candidates are within select.min_gap={self.config.select.min_gap:g} s of a better "
            f"pick{per_shot}"
        )

    def _stats(self, source: SourceStats, end: float) -> Stats:
        timings = dict(source.timings)
        for stage in (self.timings, self.eval_timings):
            for key, value in dict(stage).items():  # a copy: a snapshot reads the other thread's
                timings[key] = timings.get(key, 0.0) + value
        return Stats(
            frames_decoded=self.frames,
            candidates=len(self.records),
            scored=self.scored,
            rejected=dict(self.rejected),
            corrupt_packets=source.corrupt_packets,
            truncated=source.truncated or bool(source.expected and end < 0.9 * source.expected),  # ended early
            peak_frames_held=source.peak_frames_held,
            timings=timings,
        )


def _select_for(config: Config, duration: float | None) -> SelectConfig:
    """The selection rules for this video: with ``fill``, a short one keeps its picks
    ``duration / (k + 1)`` apart (but at least ``_SHORT_GAP``) rather than ``min_gap``, so a
    5-second clip gives three pictures and a half-second one does not give three copies."""
    cfg = config.select
    if not duration or not cfg.fill:
        return cfg
    return dataclasses.replace(cfg, min_gap=min(cfg.min_gap, max(_SHORT_GAP, duration / (cfg.k + 1))))


def _every(config: Config, duration: float | None) -> float:
    """Seconds between uniform samples: denser for a short video, so every video has at least
    ``per_pick`` candidates per requested pick, however short or uncut."""
    cand = config.candidates
    if not duration or not cand.per_pick or cand.every <= 0:
        return cand.every
    return min(cand.every, duration / (cand.per_pick * config.select.k + 1))


def _trim_borders(cand: Candidate, config: Config) -> None:
    """Cut the black bars off the candidate's view and note where its picture lies in the frame,
    so the filters, faces and scorer judge only the picture and the pick is that picture."""
    assert cand.frame is not None
    box = find_picture(cand.view, config.candidates)
    if box is None:
        return
    x, y, w, h = box
    height, width = cand.view.shape[-2:]
    cand.picture = to_frame(box, (width, height), upright_size(cand.frame))
    cand.view = cand.view[:, y : y + h, x : x + w].contiguous()
    cand.measure("borders", 1.0 - w * h / (width * height))


_THUMB_HEIGHT = 120
"""Pixels: the height of the copies a report shows."""


def _thumb(view: torch.Tensor) -> np.ndarray:
    """A small HWC uint8 copy of a (3, h, w) view, for reports."""
    height, width = view.shape[-2:]
    size = (_THUMB_HEIGHT, max(1, round(width * _THUMB_HEIGHT / height)))
    small = torch.nn.functional.interpolate(view[None].float(), size=size, mode="area")[0]
    return small.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()


def _to_pick(cand: Candidate, fallback: bool, tone_map: bool, *, rank: int | None = None) -> Pick:
    """The pick of a pooled candidate: its rank, or ``rank`` for a snapshot, which ranks nobody."""
    rank = rank or cand.rank
    assert cand.frame is not None and rank is not None
    rgb = to_rgb(cand.frame, tone_map=tone_map)
    if cand.picture is not None:
        x, y, w, h = cand.picture
        rgb = rgb[:, y : y + h, x : x + w]
    image = rgb.permute(1, 2, 0).contiguous().cpu().numpy()
    embedding = None if cand.embedding is None else cand.embedding.float().cpu().numpy()
    return Pick(rank=rank, candidate=cand.info(), fallback=fallback, image=image, embedding=embedding)
