"""The push core: frames in, a ``Result`` out, with bounded memory.

``Picker.push(frame, t)`` does only cheap per-frame work on the caller's thread (a small copy
for the shot detector, the candidate decision, and a full RGB conversion for candidates only).
Candidates cross a bounded queue to a scoring thread that forms micro-batches for the sharpness
filter, CLIP and the face detector, so decoding and scoring overlap and a slow scorer applies
back-pressure instead of piling up frames. ``pick()`` is the file source built on it; a
transcoder that already decodes frames pushes them itself and nothing is decoded twice.

Example:
    >>> scorer = load_scorer(config.scoring, "cuda")          # share one model across streams
    >>> with Picker(config, scorer=scorer, fps=30.0) as picker:
    ...     for frame, t in my_decoder:
    ...         picker.push(frame, t)
    ...     result = picker.finish()
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from av.video.reformatter import VideoReformatter
from tqdm import tqdm

from ._device import resolve_device
from .candidates import Candidate, CandidatePlanner
from .config import Config
from .decode import (
    Frame,
    VideoReader,
    analysis_view,
    check_frame,
    frame_size,
    keep,
    small_bgr,
    to_rgb,
    upright_size,
)
from .errors import EmptyVideoError, FrameError, StreamthumbError
from .faces import FaceDetector, make_face_detector
from .results import Box, Pick, Result, Shot, Stats
from .scoring import Scorer, load_scorer
from .select import Scored, TopKPool
from .sharpness import exposure_ok, measure, passes
from .shots import analysis_size, make_shot_detector

__all__ = ["Picker", "pick"]

_STOP = object()
"""Queue sentinel: no more candidates."""
_PUT_POLL = 0.1
"""Seconds between checks that the scoring thread is still alive while the queue is full."""


@dataclass(frozen=True)
class _Queued:
    t: float
    shot: int
    view: torch.Tensor = field(repr=False)
    frame: Frame = field(repr=False)


class Picker:
    """Streaming thumbnail picker for one video stream.

    Args:
        config: Pipeline settings; defaults to ``Config()``.
        scorer: A loaded scorer, to share one model between pickers; loaded from
            ``config.scoring`` when omitted.
        face_detector: Replaces the configured face detector.
        fps: The stream's nominal frame rate; the shot detector counts ``min_scene_len`` in frames.
        video: Name recorded in the result.

    Raises:
        ModelError: the scorer cannot be loaded.
        ConfigError: the configured device is not available.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        scorer: Scorer | None = None,
        face_detector: FaceDetector | None = None,
        fps: float = 25.0,
        video: str | None = None,
    ):
        self.config = cfg = config or Config()
        self._fps = fps if fps and fps > 0 else 25.0
        self._video = video
        self._scorer = scorer or load_scorer(cfg.scoring, resolve_device(cfg.runtime.device))
        self._faces = face_detector or (make_face_detector(cfg.faces) if cfg.faces.enabled else None)
        keyframes = cfg.decode.sampling == "keyframes"
        self._shots = make_shot_detector(cfg.shots, self._fps, min_scene_len=0 if keyframes else None)
        # Hold frames until the detector can no longer report a cut before them, plus the offset.
        offset_frames = 0 if keyframes else math.ceil(cfg.candidates.shot_offset * self._fps) + 1
        lookahead = self._shots.latency + offset_frames + 1
        self._planner = CandidatePlanner(cfg.candidates, lookahead, every_frame=keyframes)
        self._pool = TopKPool(cfg.select)
        self._fallback = TopKPool(cfg.select)  # ranked by sharpness: the best of the rejected
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=cfg.runtime.queue_size)
        self._timings: defaultdict[str, float] = defaultdict(float)
        self._worker_timings: defaultdict[str, float] = defaultdict(float)
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._in_flight = 0
        self._peak_held = 0
        self._frames = 0
        self._last_t = 0.0
        self._small_size: tuple[int, int] | None = None
        self._shot_scaler = VideoReformatter()  # one per output size: each caches its context
        self._view_scaler = VideoReformatter()
        self._size: tuple[int, int] = (0, 0)
        self._error: BaseException | None = None
        self._done = False
        self._worker = threading.Thread(target=self._work, name="streamthumb-scorer", daemon=True)
        self._worker.start()

    # -- producer side: the caller's thread -------------------------------------------------

    def push(self, frame: Frame, t: float) -> None:
        """Feed the next frame in presentation order, with its time in seconds.

        Arrays and tensors are copied, since callers often reuse their buffers; PyAV frames are
        reference-counted and kept as they are. A time earlier than the previous frame's (broken
        timestamps) is taken as the previous frame's time, so times never run backwards.

        Raises:
            FrameError: ``frame`` is not a frame the picker takes, or ``t`` is not a finite
                number >= 0.
            DecodeError: the frame cannot be converted.
            StreamthumbError: the scoring thread failed (re-raised here).
        """
        self._raise_if_failed()
        if self._done:
            raise RuntimeError("Picker.push() after finish()")
        frame = check_frame(frame)
        t = max(_check_time(t), self._last_t)
        if self._small_size is None:
            self._small_size = analysis_size(*frame_size(frame), self.config.shots.analysis_width)
            self._size = upright_size(frame)
        start = time.perf_counter()
        cuts = self._shots.process(small_bgr(frame, *self._small_size, self._shot_scaler), t)
        self._planner.add_cuts(cuts)
        self._timings["shots"] += time.perf_counter() - start
        for cand in self._planner.push(self._frames, t, keep(frame)):
            self._enqueue(cand)
        self._frames += 1
        self._last_t = t
        self._note_held()

    def finish(self, duration: float | None = None) -> Result:
        """Flush every stage and return the picks.

        Args:
            duration: The stream's length when the source knows it better than the frames
                pushed do (keyframe sampling sees only keyframes).

        Raises:
            EmptyVideoError: no frame was pushed.
            StreamthumbError: the scoring thread failed.
        """
        if self._frames == 0:
            self.close()
            raise EmptyVideoError(f"{self._video or 'stream'}: no video frames could be decoded")
        self._planner.add_cuts(self._shots.finish(self._last_t))
        for cand in self._planner.finish():
            self._enqueue(cand)
        self._stop_worker()
        self._raise_if_failed()
        start = time.perf_counter()
        end = max(self._last_t + 1.0 / self._fps, duration or 0.0)
        shots = self._shot_list(end)
        self._pool.replace(self._search_faces(self._pool.items))
        chosen = self._pool.choose(len(shots))
        fallback = not chosen
        if fallback:
            chosen = self._rescore(self._fallback.choose(len(shots)))
        picks = tuple(_to_pick(rank, s, fallback) for rank, s in enumerate(chosen, start=1))
        self._timings["select"] += time.perf_counter() - start
        width, height = self._size
        return Result(
            video=self._video,
            duration=end,
            fps=self._fps,
            width=width,
            height=height,
            shots=shots,
            picks=picks,
            stats=self._stats(),
            requested=self.config.select.k,
            shortfall=self._shortfall(len(picks), fallback),
        )

    def close(self) -> None:
        """Stop the scoring thread, dropping unscored candidates; safe to call more than once."""
        if not self._done:
            _drain(self._queue)
            self._stop_worker()

    def __enter__(self) -> Picker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _enqueue(self, cand: Candidate) -> None:
        start = time.perf_counter()
        view = analysis_view(cand.frame, self.config.sharpness.analysis_size, self._view_scaler)
        item = _Queued(cand.t, cand.shot, view, cand.frame)
        self._timings["convert"] += time.perf_counter() - start
        self._counts["candidates"] += 1
        while True:
            try:
                self._queue.put(item, timeout=_PUT_POLL)
                return
            except queue.Full:
                self._raise_if_failed()

    def _stop_worker(self) -> None:
        self._done = True
        while self._worker.is_alive():
            try:
                self._queue.put(_STOP, timeout=_PUT_POLL)
                break
            except queue.Full:
                continue
        self._worker.join()

    def _raise_if_failed(self) -> None:
        """Re-raise the scoring thread's error, every time: a failed picker has no result."""
        err = self._error
        if err is None:
            return
        self._done = True
        if isinstance(err, StreamthumbError):
            raise err
        raise RuntimeError(f"scoring thread failed: {err}") from err

    def _note_held(self) -> None:
        held = (
            self._planner.held
            + self._queue.qsize()
            + self._in_flight
            + len(self._pool)
            + len(self._fallback)
        )
        self._peak_held = max(self._peak_held, held)

    def _shot_list(self, end: float) -> tuple[Shot, ...]:
        bounds = [0.0, *(c for c in self._planner.cuts if c < end), end]
        return tuple(Shot(a, b) for a, b in zip(bounds, bounds[1:], strict=False))

    def _shortfall(self, found: int, fallback: bool) -> str | None:
        """Why fewer than ``k`` picks came out, in the words a user can act on."""
        k, cands, passed = self.config.select.k, self._counts["candidates"], self._counts["scored"]
        if found >= k:
            return None
        if cands < k:
            return (
                f"the video gave only {cands} candidate frame{'s' if cands != 1 else ''} "
                f"(one per shot, plus one every {self.config.candidates.every:g} s)"
            )
        if fallback or passed < k:
            return f"only {passed} of {cands} candidates passed the blur and exposure filters"
        per_shot = " or in the same shot (select.one_per_shot)" if self.config.select.one_per_shot else ""
        return (
            f"the other candidates are within select.min_gap={self.config.select.min_gap:g} s of a better "
            f"pick{per_shot}"
        )

    def _stats(self) -> Stats:
        timings = dict(self._timings)
        for key, value in self._worker_timings.items():
            timings[key] = timings.get(key, 0.0) + value
        return Stats(
            frames_decoded=self._frames,
            candidates=self._counts["candidates"],
            scored=self._counts["scored"],
            rejected_blurry=self._counts["blurry"],
            rejected_exposure=self._counts["exposure"],
            corrupt_packets=0,
            truncated=False,
            peak_frames_held=self._peak_held,
            timings=timings,
        )

    # -- consumer side: the scoring thread ---------------------------------------------------

    def _work(self) -> None:
        batch: list[_Queued] = []
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if batch and item.view.shape != batch[0].view.shape:
                    self._score_batch(batch)  # resolution changed mid-stream: a new batch
                    batch = []
                batch.append(item)
                self._in_flight = len(batch)
                if len(batch) >= self.config.runtime.batch_size:
                    self._score_batch(batch)
                    batch = []
            if batch:
                self._score_batch(batch)
        except BaseException as exc:  # handed to the producer, which re-raises it
            self._error = exc
            _drain(self._queue)
        finally:
            self._in_flight = 0

    def _score_batch(self, batch: list[_Queued]) -> None:
        """Filter a micro-batch on the device, then score what passed; the rest may be fallbacks."""
        start = time.perf_counter()
        images = torch.stack([b.view for b in batch]).to(self._scorer.device, non_blocking=True)
        sharp, bright = measure(images, self.config.sharpness.analysis_size)
        passed = passes(self.config.sharpness, sharp, bright).tolist()
        exposed = exposure_ok(self.config.sharpness, bright).tolist()
        # Until CLIP has spoken, a candidate's score is its sharpness: that ranks the fallbacks.
        measured = [
            Scored(b.t, b.shot, s, math.nan, s, br, None, b.view.cpu(), b.frame)
            for b, s, br in zip(batch, sharp.tolist(), bright.tolist(), strict=True)
        ]
        self._worker_timings["sharpness"] += time.perf_counter() - start
        for item, ok, exposure in zip(measured, passed, exposed, strict=True):
            if not ok:
                self._counts["blurry" if exposure else "exposure"] += 1
                self._fallback.offer(item)
        kept = [i for i, ok in enumerate(passed) if ok]
        if kept:
            clipped = self._clip(images[kept], [measured[i] for i in kept])
            # Haar costs about as much as CLIP on a CPU: search only where the bonus could lift a
            # candidate into the pool. The rest are searched at finish() if they are still pooled.
            admission = self._pool.admission() - self.config.faces.bonus
            for item in self._search_faces(clipped, lambda s: s.clip >= admission):
                self._pool.offer(item)
        self._in_flight = 0

    def _clip(self, images: torch.Tensor, items: list[Scored]) -> list[Scored]:
        """CLIP scores for measured frames; the score is the CLIP score until faces are known."""
        start = time.perf_counter()
        clip = self._scorer.score(images).tolist()
        self._worker_timings["clip"] += time.perf_counter() - start
        self._counts["scored"] += len(items)
        return [dataclasses.replace(item, score=c, clip=c) for item, c in zip(items, clip, strict=True)]

    def _search_faces(self, items: list[Scored], wanted: Callable[[Scored], bool] = lambda s: True) -> list[Scored]:
        """Fill in faces and the face bonus for wanted items not searched yet; keep the order."""
        if self._faces is None:
            return [s if s.faces is not None else dataclasses.replace(s, faces=()) for s in items]
        out = list(items)
        todo = [i for i, s in enumerate(items) if s.faces is None and wanted(s)]
        start = time.perf_counter()
        for group in _same_shape(todo, lambda i: items[i].view.shape):
            found = self._faces.detect(torch.stack([items[i].view for i in group]))
            for i, boxes in zip(group, found, strict=True):
                item = items[i]
                to_full = max(upright_size(item.frame)) / max(item.view.shape[-2:])  # found at view size
                bonus = self.config.faces.bonus if boxes else 0.0
                out[i] = dataclasses.replace(item, faces=_scale_boxes(boxes, to_full), score=item.clip + bonus)
        self._worker_timings["faces"] += time.perf_counter() - start
        return out

    def _rescore(self, rejected: list[Scored]) -> list[Scored]:
        """Score the best rejected candidates so even an all-blurry video gets thumbnails."""
        scored: list[Scored] = []
        for group in _same_shape(range(len(rejected)), lambda i: rejected[i].view.shape):
            items = [rejected[i] for i in group]
            images = torch.stack([r.view for r in items]).to(self._scorer.device)
            scored += self._search_faces(self._clip(images, items))
        return sorted(scored, key=lambda s: -s.score)


def _check_time(t: object) -> float:
    """A frame time must be a finite number of seconds from the start."""
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0:
        raise FrameError(f"push() needs the frame's time as finite seconds >= 0, got {t!r}")
    return float(t)


def _same_shape(indices: Iterable[int], shape: Callable[[int], torch.Size]) -> list[list[int]]:
    """Indices grouped by view shape: a stream may change resolution, a batch may not."""
    groups: dict[torch.Size, list[int]] = {}
    for i in indices:
        groups.setdefault(shape(i), []).append(i)
    return list(groups.values())


def _drain(q: queue.Queue[Any]) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _scale_boxes(boxes: list[Box], factor: float) -> tuple[Box, ...]:
    return tuple((round(x * factor), round(y * factor), round(w * factor), round(h * factor)) for x, y, w, h in boxes)


def _to_pick(rank: int, s: Scored, fallback: bool) -> Pick:
    image = to_rgb(s.frame).permute(1, 2, 0).contiguous().cpu().numpy()
    return Pick(
        rank=rank,
        t=s.t,
        score=s.score,
        shot=s.shot,
        clip=s.clip,
        sharpness=s.sharpness,
        brightness=s.brightness,
        faces=s.faces or (),
        fallback=fallback,
        image=image,
    )


def pick(
    source: str | os.PathLike[str],
    config: Config | None = None,
    k: int | None = None,
    *,
    scorer: Scorer | None = None,
    face_detector: FaceDetector | None = None,
    progress: bool = False,
) -> Result:
    """Pick the best ``k`` thumbnails of a video file in one decode pass.

    Args:
        source: Path of the video.
        config: Pipeline settings; defaults to ``Config()``.
        k: Overrides ``config.select.k``.
        scorer: A loaded scorer to reuse across calls; loaded from the config when omitted.
        face_detector: A face detector to reuse across calls; built from the config when omitted.
        progress: Draw a progress bar on stderr.

    Returns:
        The picks, best first, with the video's shots and run statistics. Pixels are in
        ``Pick.image``; ``write_thumbnails`` saves them.

    Raises:
        InputError: the file is missing, not a video, or has no decodable frame.
        ModelError: the scoring model or its weights cannot be loaded.
        ConfigError: a setting is invalid or the device is unavailable.
    """
    cfg = config or Config()
    if k is not None:
        cfg = cfg.with_overrides({"select.k": k})
    start = time.perf_counter()
    with VideoReader(
        source, threads=cfg.decode.threads, keyframes_only=cfg.decode.sampling == "keyframes"
    ) as reader:
        if scorer is None:
            scorer = load_scorer(cfg.scoring, resolve_device(cfg.runtime.device))
        model_s = time.perf_counter() - start
        with Picker(cfg, scorer=scorer, face_detector=face_detector, fps=reader.info.fps, video=str(source)) as picker:
            decode_s = _feed(reader, picker, progress)
            keyframes = cfg.decode.sampling == "keyframes"  # saw keyframes only: trust the container
            result = picker.finish(reader.info.duration if keyframes else None)
    expected = reader.info.duration
    stats = dataclasses.replace(
        result.stats,
        corrupt_packets=reader.corrupt_packets,
        truncated=reader.truncated or bool(expected and result.duration < 0.9 * expected),  # ended early
        timings={"model": model_s, "decode": decode_s, **result.stats.timings, "total": time.perf_counter() - start},
    )
    return dataclasses.replace(result, stats=stats)


def _feed(reader: VideoReader, picker: Picker, progress: bool) -> float:
    """Push every frame; return the seconds spent inside the decoder."""
    total = reader.info.duration
    name = os.path.basename(reader.path)
    bar = tqdm(
        total=round(total, 1) if total else None,
        unit="s",
        desc=name[:30],
        disable=not progress,
        file=sys.stderr,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} s video [{elapsed}<{remaining}, {rate_fmt}]",
    )
    decode_s = 0.0
    frames = iter(reader)
    with bar:
        while True:
            start = time.perf_counter()
            try:
                frame, t = next(frames)
            except StopIteration:
                break
            finally:
                decode_s += time.perf_counter() - start
            picker.push(frame, t)
            if t > bar.n:
                bar.update(t - bar.n)
    return decode_s
