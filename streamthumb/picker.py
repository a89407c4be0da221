"""The push core: frames in, a ``Result`` out, with bounded memory, on two threads.

``Picker`` runs a ``StreamPipeline`` (``pipeline.py``): ``push(frame, t)`` does the cheap
per-frame half on the caller's thread, and candidates cross a bounded queue to a scoring
thread that forms micro-batches for the filters, the scorer (through an ``InferenceEngine``,
which several pickers may share) and the bonuses. Decoding and scoring overlap, a slow scorer
applies back-pressure instead of piling up frames, and a ``CancelToken`` stops both threads
within one frame or one batch. ``pick()`` is the file source built on it; a transcoder that
already decodes frames pushes them itself and nothing is decoded twice.

Example:
    >>> engine = InferenceEngine(load_scorer(config.scoring, "cuda"))   # share across streams
    >>> with Picker(config, engine=engine, fps=30.0) as picker:
    ...     for frame, t in my_decoder:
    ...         picker.push(frame, t)
    ...     result = picker.finish()
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ._device import resolve_device
from ._encoder_cache import load_cached_scorer
from .config import Config
from .decode import Frame, VideoReader, check_frame
from .engine import InferenceEngine
from .errors import EmptyVideoError, FrameError, StreamthumbError
from .events import CancelToken, EventCallback, Finished
from .faces import FaceDetector
from .filters import FaceBonus, make_bonuses
from .pipeline import SourceStats, StreamPipeline
from .provenance import provenance
from .record import Candidate
from .results import Result
from .scoring import BackgroundScorer, Scorer, load_scorer
from .sources import Source, unreadable_hint

__all__ = ["Picker", "pick"]

_STOP = object()
"""Queue sentinel: no more candidates."""


class _Snapshot:
    """A request for the interim result, answered by the scoring thread in queue order, so
    every candidate queued before it is scored first."""

    def __init__(self) -> None:
        self.future: Future[Result] = Future()


_PUT_POLL = 0.1
"""Seconds between checks that the scoring thread is alive (and the run not cancelled) while
the queue is full."""


class Picker:
    """Streaming thumbnail picker for one video stream.

    Args:
        config: Pipeline settings; defaults to ``Config()``.
        scorer: A loaded scorer; loaded from ``config.scoring`` when neither it nor ``engine``
            is given.
        engine: A shared inference engine, so several pickers' candidates share batches;
            the picker makes (and closes) its own around ``scorer`` when omitted.
        face_detector: Replaces the configured face detector (one per thread: OpenCV's
            cascade must not be shared).
        fps: The stream's nominal frame rate; the shot detector counts ``min_scene_len`` in frames.
        video: Name recorded in the result and the events.
        duration: The stream's length, when known, for progress events.
        on_event: Receives progress and per-candidate events (from both threads).
        cancel: Checked once per frame and once per batch; ``Cancelled`` stops the run.
        keep_thumbs: Keep a small copy of every candidate for a report (``CandidateInfo.thumb``).

    Raises:
        ModelError: the scorer cannot be loaded.
        ConfigError: the configured device is not available.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        scorer: Scorer | None = None,
        engine: InferenceEngine | None = None,
        face_detector: FaceDetector | None = None,
        fps: float = 25.0,
        video: str | None = None,
        duration: float | None = None,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
        keep_thumbs: bool = False,
    ):
        self.config = cfg = config or Config()
        bonuses = [FaceBonus(cfg, face_detector)] if face_detector and cfg.faces.enabled else make_bonuses(cfg)
        own = engine is None
        if engine is None:
            scorer = scorer or load_scorer(cfg.scoring, resolve_device(cfg.runtime.device))
            engine = InferenceEngine(scorer, max_batch=cfg.runtime.batch_size)
        self._own_engine, self._engine = own, engine
        try:
            self._pipe = StreamPipeline(
                cfg,
                submit=engine.submit,
                scorer_ready=lambda: engine.ready,
                device=engine.device,
                bonuses=bonuses,
                fps=fps,
                video=video,
                duration=duration,
                on_event=on_event,
                keep_thumbs=keep_thumbs,
            )
        except BaseException:  # a failed start must not leave our engine's thread behind
            if own:
                engine.close()
            raise
        engine.attach()
        self._engine_held = True
        self._on_event = on_event
        self._cancel = cancel or CancelToken()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=cfg.runtime.queue_size)
        self._in_flight = 0
        self._peak_held = 0
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
            Cancelled: the cancel token was set.
            StreamthumbError: the scoring thread failed (re-raised here).
        """
        self._raise_if_failed()
        if self._done:
            raise RuntimeError("Picker.push() after finish() or close()")
        self._cancel.check(self._pipe.video)
        frame = check_frame(frame)
        t = max(_check_time(t), self._pipe.last_t)
        for cand in self._pipe.push(frame, t):
            self._enqueue(cand)
        self._note_held()

    def finish(self, duration: float | None = None, *, source: SourceStats | None = None) -> Result:
        """Flush every stage and return the picks.

        Args:
            duration: The stream's length when the source knows it better than the frames
                pushed do (keyframe sampling sees only keyframes).
            source: What the frame source knows: corrupt packets, truncation, its timings.

        Raises:
            EmptyVideoError: no frame was pushed.
            Cancelled: the cancel token was set.
            StreamthumbError: the scoring thread failed.
        """
        if self._done:
            self._raise_if_failed()  # a failed picker says why, every time
            raise RuntimeError("Picker.finish() after finish() or close()")
        if self._pipe.frames == 0:
            self.close()
            raise EmptyVideoError(f"{self._pipe.video or 'stream'}: no video frames could be decoded")
        try:
            for cand in self._pipe.flush():
                self._enqueue(cand)
            self._stop_worker()
            self._raise_if_failed()
            self._cancel.check(self._pipe.video)
            source = dataclasses.replace(source or SourceStats(), peak_frames_held=self._peak_held)
            result = self._pipe.finish(duration, source=source)  # may score fallbacks: engine still held
            result = self._with_provenance(result)
        finally:
            self.close()
        if self._on_event is not None:
            self._on_event(Finished(self._pipe.video, result))
        return result

    def snapshot(self) -> Result:
        """The best ``k`` of the stream so far, without ending it: a live source's result every
        N seconds. Candidates pushed before the call are scored first; the frames the shot
        detector still holds back (about a second) are not in it yet.

        The picks follow the rules ``finish`` applies, with no fallback yet (a stream with no
        good frame so far gives none, and ``shortfall`` says why). Nothing is decided: a
        later snapshot or ``finish`` may pick other frames.

        Raises:
            Cancelled: the cancel token was set.
            StreamthumbError: the scoring thread failed.
        """
        self._raise_if_failed()
        if self._done:
            raise RuntimeError("Picker.snapshot() after finish() or close()")
        request = _Snapshot()
        self._enqueue(request)
        while True:
            try:
                result = request.future.result(timeout=_PUT_POLL)
                break
            except FutureTimeout:
                self._raise_if_failed()
                self._cancel.check(self._pipe.video)
                if not self._worker.is_alive():  # finish() or close() raced this call
                    raise RuntimeError("Picker.snapshot(): the picker finished or was closed") from None
        return self._with_provenance(result)

    def _with_provenance(self, result: Result) -> Result:
        """The result with what made it: every result a picker hands out carries it."""
        return dataclasses.replace(result, provenance=provenance(self.config, self._engine.scorer))

    def close(self) -> None:
        """Stop the scoring thread, dropping unscored candidates and every frame held; safe to
        call more than once."""
        if not self._done:
            _drain(self._queue)
            self._stop_worker()
        self._pipe.release()
        self._release_engine()

    @property
    def frames_held(self) -> int:
        """Frames the picker holds now: the shot detector's window, the queue and the pools."""
        pipe = self._pipe
        pooled = sum(c.frame is not None for c in (*pipe.selector.items, *pipe.fallback.items))
        return pipe.held + self._queue.qsize() + self._in_flight + pooled

    def __enter__(self) -> Picker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _enqueue(self, item: Candidate | _Snapshot) -> None:
        while True:
            try:
                self._queue.put(item, timeout=_PUT_POLL)
                return
            except queue.Full:
                self._raise_if_failed()
                self._cancel.check(self._pipe.video)
                if not self._worker.is_alive():
                    raise RuntimeError("Picker: the scoring thread is gone (finished or closed)") from None

    def _stop_worker(self) -> None:
        if not self._done:
            self._done = True
            while self._worker.is_alive():
                try:
                    self._queue.put(_STOP, timeout=_PUT_POLL)
                    break
                except queue.Full:
                    continue
            self._worker.join()

    def _release_engine(self) -> None:
        """Let go of the engine once nothing more will be scored; close it if it is ours."""
        if self._engine_held:
            self._engine_held = False
            self._engine.detach()
            if self._own_engine:
                self._engine.close()

    def _raise_if_failed(self) -> None:
        """Re-raise the scoring thread's error, every time: a failed picker has no result."""
        err = self._error
        if err is None:
            return
        self._stop_worker()
        if isinstance(err, StreamthumbError):
            raise err
        raise RuntimeError(f"scoring thread failed: {err}") from err

    def _note_held(self) -> None:
        pipe = self._pipe
        held = pipe.held + self._queue.qsize() + self._in_flight + len(pipe.selector) + len(pipe.fallback)
        self._peak_held = max(self._peak_held, held)  # counted cheaply: every pooled frame is held

    # -- consumer side: the scoring thread ---------------------------------------------------

    def _work(self) -> None:
        batch: list[Candidate] = []
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                self._cancel.check(self._pipe.video)
                if isinstance(item, _Snapshot):
                    # From what is evaluated: flushing the partial batch would move the batch
                    # boundaries, and with them the last digits of batched measures.
                    _answer(item, self._pipe.snapshot)
                    continue
                if batch and item.view.shape != batch[0].view.shape:
                    self._evaluate(batch)  # resolution changed mid-stream: a new batch
                    batch = []
                batch.append(item)
                self._in_flight = len(batch)
                if len(batch) >= self.config.runtime.batch_size:
                    self._evaluate(batch)
                    batch = []
            if batch:
                self._evaluate(batch)
        except BaseException as exc:  # handed to the producer, which re-raises it
            self._error = exc
        finally:
            _drain(self._queue)  # unanswered snapshot requests fail rather than wait forever
            self._in_flight = 0

    def _evaluate(self, batch: list[Candidate]) -> None:
        self._cancel.check(self._pipe.video)
        self._pipe.evaluate(batch)
        self._in_flight = 0


def _answer(request: _Snapshot, make: Callable[[], Result]) -> None:
    """Answer a snapshot request; its failure goes to the caller who asked, not the stream."""
    try:
        request.future.set_result(make())
    except Exception as exc:
        request.future.set_exception(exc)


def _check_time(t: object) -> float:
    """A frame time must be a finite number of seconds from the start."""
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0:
        raise FrameError(f"push() needs the frame's time as finite seconds >= 0, got {t!r}")
    return float(t)


def _drain(q: queue.Queue[Any]) -> None:
    """Empty the queue; a snapshot request in it is answered with an error."""
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Snapshot):
            item.future.set_exception(RuntimeError("Picker.snapshot(): the picker finished or was closed"))


def pick(
    source: Source,
    config: Config | None = None,
    k: int | None = None,
    *,
    scorer: Scorer | None = None,
    engine: InferenceEngine | None = None,
    face_detector: FaceDetector | None = None,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
    keep_thumbs: bool = False,
) -> Result:
    """Pick the best ``k`` thumbnails of a video in one decode pass.

    Args:
        source: A video file, a URL FFmpeg can open (http, https, HLS, rtmp, srt; with
            ``decode.timeout``), or a readable binary file-like object such as a pipe. Only the
            part from ``decode.start`` to ``decode.max_duration`` (times in the video) is considered.
        config: Pipeline settings; defaults to ``Config()``.
        k: Overrides ``config.select.k``.
        scorer: A loaded scorer to reuse across calls; loaded from the config when omitted.
        engine: A shared inference engine (several videos at once share batches); wins over
            ``scorer``.
        face_detector: A face detector to reuse across calls; built from the config when omitted.
        on_event: Receives ``Progress``, ``CandidateJudged`` and ``Finished`` events.
        cancel: Stops the run when set, from any thread.
        keep_thumbs: Keep a small copy of every candidate (``CandidateInfo.thumb``), for a report.

    Returns:
        The picks, best first, with the video's shots, every candidate's record and run
        statistics. Pixels are in ``Pick.image``; ``write_thumbnails`` saves them.

    Raises:
        InputError: the source is missing, unreachable, not a video, or has no decodable frame.
        ModelError: the scoring model or its weights cannot be loaded.
        ConfigError: a setting is invalid or the device is unavailable.
        Cancelled: ``cancel`` was set.
    """
    cfg = config or Config()
    if k is not None:
        cfg = cfg.with_overrides({"select.k": k})
    start = time.perf_counter()
    keyframes = cfg.decode.sampling == "keyframes"
    with VideoReader(
        source, threads=cfg.decode.threads, keyframes_only=keyframes, timeout=cfg.decode.timeout
    ) as reader:
        loading = None
        if scorer is None and engine is None:
            # Loads beside the decoder: the first candidates need it only after decoding and filtering.
            load = load_cached_scorer if cfg.scoring.encoder_cache else load_scorer
            scorer = loading = BackgroundScorer(cfg.scoring, resolve_device(cfg.runtime.device), load)
        model_s = time.perf_counter() - start
        length = _length(reader.info.duration, cfg.decode.max_duration)
        with Picker(
            cfg,
            scorer=scorer,
            engine=engine,
            face_detector=face_detector,
            fps=reader.info.fps,
            video=reader.path,
            duration=_span(length or cfg.decode.max_duration, cfg.decode.start),  # a pipe's length: the cap
            on_event=on_event,
            cancel=cancel,
            keep_thumbs=keep_thumbs,
        ) as picker:
            decode_s, cut_short = _feed(reader, picker, cfg.decode.start, cfg.decode.max_duration)
            damage = SourceStats(
                corrupt_packets=reader.corrupt_packets,
                truncated=reader.truncated,
                expected=None if cut_short else reader.info.duration,
                timings={"model": model_s, "decode": decode_s},
            )
            try:
                result = picker.finish(length if keyframes else None, source=damage)  # keyframes: trust it
            except EmptyVideoError as exc:
                _check_start(reader, cfg.decode.start, exc)
                hint = unreadable_hint(source, reader.format_name)  # an MP4 whose index is at its end, piped in
                if hint is None:
                    raise
                raise EmptyVideoError(f"{exc}; {hint}") from exc
    total = {**result.stats.timings, "total": time.perf_counter() - start}  # wall time, measured outermost
    if loading is not None:
        total["model"] = loading.load_s  # beside the decoder: overlaps the other stages
    return dataclasses.replace(result, stats=dataclasses.replace(result.stats, timings=total))


def _check_start(reader: VideoReader, start: float, exc: EmptyVideoError) -> None:
    """Say so when no frame came because ``decode.start`` lies past the end of the video.

    Raises:
        EmptyVideoError: it does.
    """
    end = reader.info.duration
    if start > 0 and end and start >= end:
        raise EmptyVideoError(f"{reader.path}: decode.start={start:g} s is past the video's end ({end:g} s)") from exc


def _span(end: float | None, start: float) -> float | None:
    """Seconds that will be considered, from ``start`` to ``end``: what sampling density and
    the short-video gap go by, so a 4-second trim of a long video samples like a 4-second clip."""
    return None if end is None else max(0.0, end - start)


def _length(duration: float | None, max_duration: float | None) -> float | None:
    """The seconds that will be read, when the container knows its length: capped by ``max_duration``."""
    if duration is None or max_duration is None:
        return duration
    return min(duration, max_duration)


def _feed(reader: VideoReader, picker: Picker, first: float, max_duration: float | None) -> tuple[float, bool]:
    """Push the frames from ``first`` to ``max_duration`` seconds; return the seconds spent
    inside the decoder and whether the video was cut short."""
    decode_s = 0.0
    frames = iter(reader)
    while True:
        clock = time.perf_counter()
        try:
            frame, t = next(frames)
        except StopIteration:
            return decode_s, False
        finally:
            decode_s += time.perf_counter() - clock
        if max_duration is not None and t >= max_duration:
            return decode_s, True
        if t >= first:
            picker.push(frame, t)
