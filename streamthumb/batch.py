"""Bulk library mode: thumbnails for thousands of videos, resumable, with one model loaded once.

``run_batch`` wires the parts together, each in its own module: ``inputs`` streams the videos
named by files, folders, ``@lists`` and stdin; ``identity`` keys each one and hashes what makes
its thumbnails; ``redo`` decides from its manifest row whether it needs work; an ``executor``
(local threads by default) runs ``task.process_one`` on those that do, every worker scoring
through one shared ``InferenceEngine`` so several videos' candidates fill each model batch;
and the main thread, the ``library`` manifest's only writer, commits what comes back.

Crash safety: a video's row is committed ``pending`` before its folder is cleared, the worker
writes the thumbnails (each by temp file and rename), and only then is the row committed
``done`` with its picks. A kill at any moment leaves ``pending`` rows or none, and the next
run redoes exactly those videos from an emptied folder. A cancelled run leaves the same.

Example:
    >>> summary = run_batch(["videos/", "@more.txt"], "thumbs/", config, workers=2)
    >>> summary.done, summary.failed, summary.exit_code
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, TextIO

from . import redo
from ._device import resolve_device
from .config import Config
from .engine import EngineStats, InferenceEngine
from .errors import Cancelled, ConfigError
from .events import CancelToken
from .executor import Executor, ExecutorFactory, ThreadExecutor
from .identity import config_hash, file_stamp, video_id, video_key
from .inputs import VIDEO_EXTENSIONS, Input, Seen, check_inputs, iter_inputs
from .library import DB_NAME, Manifest, VideoRecord
from .output import make_folder
from .repeats import Repeat, RepeatIndex, record_with_repeats
from .scoring import Scorer, load_scorer
from .summary import FAILURES_KEPT, BatchEventCallback, BatchSummary, Failure, VideoDone, format_summary
from .task import Outcome, VideoTask, make_worker

__all__ = [
    "VIDEO_EXTENSIONS",
    "BatchEventCallback",
    "BatchSummary",
    "Failure",
    "VideoDone",
    "format_summary",
    "run_batch",
]


def run_batch(
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    config: Config | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
    workers: int = 2,
    extensions: Collection[str] = VIDEO_EXTENSIONS,
    retry_failed: bool = False,
    force: bool = False,
    scorer: Scorer | None = None,
    stdin: TextIO | None = None,
    on_event: BatchEventCallback | None = None,
    cancel: CancelToken | None = None,
    executor: ExecutorFactory | None = None,
    flag_repeats: bool = False,
) -> BatchSummary:
    """Pick thumbnails for every video of ``inputs`` into ``out_dir/<video id>/``, resumably.

    Args:
        inputs: Video files, folders (walked recursively for ``extensions``), ``@FILE`` lists of
            paths (one a line, ``#`` comments) and ``-`` for such a list on ``stdin``.
        out_dir: Thumbnail root; each video gets its own folder, named by ``video_id``.
        config: Pipeline settings, including ``select.k`` and ``output``.
        db: The manifest; ``out_dir/streamthumb.db`` by default.
        workers: Videos decoded at once, all feeding the one inference engine.
        extensions: Lower-case extensions, with the dot, that folder walks pick up.
        retry_failed: Redo videos that failed before, even if unchanged.
        force: Redo every video.
        scorer: A loaded scorer; loaded once from ``config`` when the first video needs it.
        stdin: Where ``-`` reads paths; ``sys.stdin`` by default.
        on_event: Receives a ``VideoDone`` as each input is settled, on this thread.
        cancel: Stops submitting videos and stops those in progress; their rows stay ``pending``
            so a rerun finishes them.
        executor: Builds the executor from ``workers`` and a worker factory; local threads
            (``ThreadExecutor``) by default.
        flag_repeats: Find picks that repeat another video's pick (shared intros, bumpers),
            at least ``select.max_similarity`` alike, against every video done with these
            settings, earlier runs included; they go in each row's ``repeats`` and the summary.

    Returns:
        Counts, timings, this run's failures and warnings. Per-video failures never raise.

    Raises:
        ConfigError: ``workers`` < 1, or a setting is invalid.
        InputError: an input path does not exist, or an ``@FILE`` list cannot be read; checked
            before anything is created.
        OutputError: the output folder or manifest cannot be created, or another run holds it.
        ModelError: the scorer cannot be loaded.
        Cancelled: ``cancel`` was set; raised once every worker has stopped.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    check_inputs(inputs)
    start = time.perf_counter()
    cfg = config or Config()
    out = make_folder(Path(out_dir).resolve())
    stdin = stdin or sys.stdin
    exts = frozenset(e.lower() for e in extensions)
    total = _count(inputs, exts) if on_event is not None and "-" not in inputs else None
    tally = _Tally(on_event, total)
    manifest_path = Path(db) if db is not None else out / DB_NAME
    with Manifest(manifest_path) as manifest, Seen() as seen, _LazyEngine(cfg, scorer) as engine:
        run = _Run(manifest, seen, tally, cfg, out, retry_failed=retry_failed, force=force, flag_repeats=flag_repeats)
        pool = (executor or ThreadExecutor)(workers, lambda: make_worker(cfg, engine.get(), cancel=cancel))
        _drive(run, pool, iter_inputs(inputs, exts, stdin), cancel)
        scoring = pool.scorer_stats() or engine.stats()
    if cancel is not None and cancel.cancelled:
        raise Cancelled(f"batch run into {out}: cancelled; run it again to finish the videos left pending")
    return tally.summary(time.perf_counter() - start, scoring, str(manifest.path))


def _count(inputs: Sequence[str], exts: frozenset[str]) -> int:
    """Inputs the run will settle, for a progress total: one walk ahead, since stdin is not read."""
    return sum(item.warning is None for item in iter_inputs(inputs, exts, sys.stdin))


def _drive(run: _Run, pool: Executor, items: Iterable[Input], cancel: CancelToken | None) -> None:
    """Offer every input until cancelled, then commit what is in flight and stop the workers."""
    try:
        for item in items:
            if cancel is not None and cancel.cancelled:
                break  # queued videos see the token and come back cancelled
            run.offer(item, pool)
        run.drain(pool)
    except BaseException:
        pool.abort()  # workers finish their video; its row stays pending for the next run
        raise
    pool.close()


class _LazyEngine:
    """The run's one inference engine, made when the first video needs work, so a rerun that
    skips every video loads no model. Used from the main thread only."""

    def __init__(self, config: Config, scorer: Scorer | None):
        self._config, self._scorer = config, scorer
        self._engine: InferenceEngine | None = None

    def get(self) -> InferenceEngine:
        """Raises ``ModelError`` when the model cannot be loaded."""
        if self._engine is None:
            cfg = self._config
            scorer = self._scorer or load_scorer(cfg.scoring, resolve_device(cfg.runtime.device))
            self._engine = InferenceEngine(scorer, max_batch=cfg.runtime.batch_size)
        return self._engine

    def stats(self) -> EngineStats:
        return self._engine.stats() if self._engine is not None else EngineStats(0, 0, 0.0)

    def __enter__(self) -> _LazyEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._engine is not None:
            self._engine.close()


class _Run:
    """Decides per video and commits outcomes; main thread only, the manifest's one writer."""

    def __init__(
        self,
        manifest: Manifest,
        seen: Seen,
        tally: _Tally,
        config: Config,
        out: Path,
        *,
        retry_failed: bool,
        force: bool,
        flag_repeats: bool,
    ):
        self.manifest, self.seen, self.tally, self.out = manifest, seen, tally, out
        self.config_hash = config_hash(config)
        self.repeats = RepeatIndex(config.select.max_similarity) if flag_repeats else None
        if self.repeats is not None:
            for path, embeddings in manifest.embeddings(self.config_hash):
                self.repeats.add(path, embeddings)
            unseen = manifest.without_embeddings(self.config_hash)
            if unseen:
                tally.warn(
                    f"{unseen} video{'s' if unseen != 1 else ''} done earlier without --flag-repeats "
                    "kept no embeddings and are not compared; --force redoes them with it"
                )
        self.retry_failed = retry_failed
        self._decide = functools.partial(
            redo.decide, config_hash=self.config_hash, retry_failed=retry_failed, force=force
        )

    def offer(self, item: Input, pool: Executor) -> None:
        """Skip, or submit, one input; commits finished outcomes, waiting while the pool is full."""
        if item.warning is not None:  # not a video: no row, no progress
            self.tally.warn(item.warning)
            return
        if item.problem is not None:  # a folder, not a video: reported, no manifest row
            self.tally.fail(item.path, item.problem)
            return
        path = video_key(item.path)
        if not self.seen.add(path):
            self.tally.settle(item.path, "duplicate", "duplicates")
            return
        thumbs = self.out / video_id(path)
        decision = self._policy(self.manifest.get(path), path, str(thumbs))
        if not decision.work:
            self.tally.settle(
                item.path, "skipped", "previously_failed" if decision.reason == "failed before" else "skipped"
            )
            return
        while pool.full:
            self._commit_all(pool.completed(wait=True))
        self.manifest.mark_pending(path, thumbs=str(thumbs), config_hash=self.config_hash)
        pool.submit(VideoTask(item.path, path, thumbs))
        self._commit_all(pool.completed())

    def drain(self, pool: Executor) -> None:
        """Commit every outcome still in flight."""
        while pool.in_flight:
            self._commit_all(pool.completed(wait=True))

    def _commit_all(self, outcomes: Iterable[Outcome]) -> None:
        """Record finished videos; their files are already in place. A cancelled one stays pending."""
        for o in outcomes:
            if not o.cancelled:
                found = record_with_repeats(self.manifest, _record(o, self.config_hash), o.embeddings, self.repeats)
                self.tally.finish(o)
                self.tally.repeated(o.task.listed, found)

    def _policy(self, row: VideoRecord | None, path: str, thumbs: str) -> redo.Decision:
        """``redo.decide``, reading the file's fingerprint only when the policy asks for it."""
        decision = self._decide(row, _file_state(path), thumbs=thumbs)
        if row is None or decision.action != "compare":
            return decision
        try:
            stamp = file_stamp(path)
        except OSError:
            return self._decide(row, None, thumbs=thumbs)  # gone since the stat
        decision = redo.decide_by_content(row, stamp.fingerprint, retry_failed=self.retry_failed)
        if decision.touch:
            self.manifest.touch(path, stamp.mtime)
        return decision


def _file_state(path: str) -> redo.FileState | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return redo.FileState(st.st_size, st.st_mtime)


def _record(o: Outcome, config_hash: str) -> VideoRecord:
    """The manifest row of a finished video."""
    stamp = o.stamp
    return VideoRecord(
        path=o.task.path,
        status="failed" if o.error else "done",
        config_hash=config_hash,
        thumbs=str(o.task.thumbs),
        size=stamp.size if stamp else None,
        mtime=stamp.mtime if stamp else None,
        fingerprint=stamp.fingerprint if stamp else None,
        picks=o.picks,
        error=o.error,
        timings=dict(o.timings),
        duration=o.duration,
        frames=o.frames,
        truncated=o.truncated,
        corrupt_packets=o.corrupt_packets,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


_Counter = Literal["done", "skipped", "failed", "previously_failed", "duplicates"]


class _Tally:
    """A run's counts, failures and warnings; announces each settled input as a ``VideoDone``."""

    def __init__(self, on_event: BatchEventCallback | None, total: int | None):
        self._on_event, self._total = on_event, total
        self.counts: dict[_Counter, int] = {
            "done": 0,
            "skipped": 0,
            "failed": 0,
            "previously_failed": 0,
            "duplicates": 0,
        }
        self.video_seconds = 0.0
        self.frames = 0
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.warning_count = 0
        self.repeats: list[str] = []
        self.repeat_count = 0

    def finish(self, o: Outcome) -> None:
        if o.error:
            self.fail(o.task.listed, o.error)
            return
        self.video_seconds += o.duration or 0.0
        self.frames += o.frames or 0
        if o.damage:
            self.warn(o.damage)
        self.settle(o.task.listed, "done", "done")

    def fail(self, path: str, reason: str) -> None:
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(Failure(path, reason))
        self.settle(path, "failed", "failed")

    def repeated(self, path: str, found: list[Repeat]) -> None:
        """Note a video whose picks repeat other videos' picks."""
        if not found:
            return
        self.repeat_count += 1
        if len(self.repeats) < FAILURES_KEPT:
            pairs = "; ".join(f"pick {r.rank} = {r.video} pick {r.other_rank} ({r.similarity:.3f})" for r in found)
            self.repeats.append(f"{path}: {pairs}")

    def warn(self, message: str) -> None:
        if len(self.warnings) < FAILURES_KEPT:
            self.warnings.append(message)
        self.warning_count += 1

    def settle(self, path: str, status: Literal["done", "failed", "skipped", "duplicate"], counter: _Counter) -> None:
        self.counts[counter] += 1
        if self._on_event is not None:
            finished = sum(self.counts.values())
            self._on_event(VideoDone(path, status, finished, self._total, self.counts["failed"], self.frames))

    def summary(self, wall_s: float, engine: EngineStats, db: str) -> BatchSummary:
        c = self.counts
        return BatchSummary(
            done=c["done"],
            skipped=c["skipped"] + c["previously_failed"],
            failed=c["failed"],
            previously_failed=c["previously_failed"],
            duplicates=c["duplicates"],
            video_seconds=self.video_seconds,
            frames=self.frames,
            wall_s=wall_s,
            scorer_busy_s=engine.busy_s,
            mean_batch=engine.mean_batch,
            failures=tuple(self.failures),
            db=db,
            warnings=tuple(self.warnings),
            warning_count=self.warning_count,
            repeats=tuple(self.repeats),
            repeat_count=self.repeat_count,
        )
