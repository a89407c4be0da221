"""Bulk library mode: thumbnails for thousands of videos, resumable, with one model loaded once.

Inputs stream in (files, folders walked recursively, ``@list.txt`` files, ``-`` for stdin) and
are never all held in memory. The main thread checks each video against the manifest, hands
the ones that need work to a few decode workers over a bounded queue, and is the manifest's
only writer. Each worker runs ``pick()`` on one video at a time with the one shared scorer, so
the next videos decode while the current one is scored.

Crash safety: a video's row is committed ``pending`` before its folder is cleared, the worker
writes the thumbnails (each by temp file and rename), and only then is the row committed
``done`` with its picks. A kill at any moment leaves ``pending`` rows or none, and the next
run redoes exactly those videos from an emptied folder.

Example:
    >>> summary = run_batch(["videos/", "@more.txt"], "thumbs/", config, workers=2)
    >>> summary.done, summary.failed, summary.exit_code
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm

from ._device import resolve_device
from .config import Config
from .errors import ConfigError, InputError, ModelError, OutputError, StreamthumbError
from .faces import FaceDetector, make_face_detector
from .library import (
    DB_NAME,
    VIDEO_EXTENSIONS,
    FileStamp,
    Manifest,
    VideoRecord,
    config_hash,
    file_stamp,
    video_id,
)
from .output import make_folder, write_thumbnails
from .picker import pick
from .scoring import Scorer, load_scorer

__all__ = ["VIDEO_EXTENSIONS", "BatchSummary", "Failure", "format_summary", "run_batch"]

FAILURES_KEPT = 100
"""Failures, and warnings, listed in the summary; the manifest has every one."""
_SHOWN_FIRST = (".mp4", ".mkv", ".mov", ".webm", ".avi")
"""Extensions named first when a warning lists what a folder walk looked for."""
_POLL = 0.5
"""Seconds between checks that the workers are alive while waiting for one."""


@dataclass(frozen=True)
class Failure:
    """A video (or folder) that could not be processed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did. ``skipped`` videos were already done (or failed) with these settings."""

    done: int
    skipped: int
    failed: int
    previously_failed: int
    """Skipped because they failed in an earlier run; ``retry_failed`` retries them."""
    duplicates: int
    """Inputs naming a video already met in this run, ignored."""
    video_seconds: float
    """Video processed by this run."""
    frames: int
    wall_s: float
    scorer_busy_s: float
    """Seconds the shared scorer spent scoring."""
    failures: tuple[Failure, ...] = field(repr=False)
    """This run's failures, the first ``FAILURES_KEPT`` of them."""
    db: str
    warnings: tuple[str, ...] = field(default=(), repr=False)
    """This run's warnings, the first ``FAILURES_KEPT``: videos done from damaged files (their
    thumbnails may miss the damaged part), and inputs that held no video at all."""
    warning_count: int = 0
    """All of this run's warnings, kept or not."""

    @property
    def videos(self) -> int:
        """Distinct videos this run looked at."""
        return self.done + self.skipped + self.failed

    @property
    def videos_per_hour(self) -> float:
        return self.done / self.wall_s * 3600 if self.wall_s > 0 else 0.0

    @property
    def scorer_busy(self) -> float:
        """Fraction of the wall time the scorer was busy; low means decode is the bottleneck."""
        return self.scorer_busy_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """1 while any input video is in the failed state, so reruns report the same, or when
        the inputs held no video at all: a mistyped ``--ext`` must not look like success."""
        return 1 if self.failed or self.previously_failed or not self.videos else 0


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
    progress: bool = False,
    scorer: Scorer | None = None,
    stdin: TextIO | None = None,
) -> BatchSummary:
    """Pick thumbnails for every video of ``inputs`` into ``out_dir/<video id>/``, resumably.

    Args:
        inputs: Video files, folders (walked recursively for ``extensions``), ``@FILE`` lists of
            paths (one a line, ``#`` comments) and ``-`` for such a list on ``stdin``.
        out_dir: Thumbnail root; each video gets its own folder, named by ``video_id``.
        config: Pipeline settings, including ``select.k`` and ``output``.
        db: The manifest; ``out_dir/streamthumb.db`` by default.
        workers: Videos decoded at once, all feeding the one scorer.
        extensions: Lower-case extensions, with the dot, that folder walks pick up.
        retry_failed: Redo videos that failed before, even if unchanged.
        force: Redo every video.
        progress: Draw a progress bar on stderr.
        scorer: A loaded scorer; loaded once from ``config`` when omitted.
        stdin: Where ``-`` reads paths; ``sys.stdin`` by default.

    Returns:
        Counts, timings, this run's failures and warnings. Per-video failures never raise.

    Raises:
        ConfigError: ``workers`` < 1, or a setting is invalid.
        InputError: an input path does not exist, or an ``@FILE`` list cannot be read; checked
            before anything is created.
        OutputError: the output folder or manifest cannot be created, or another run holds it.
        ModelError: the scorer cannot be loaded.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    _check_inputs(inputs)
    start = time.perf_counter()
    cfg = config or Config()
    out = make_folder(Path(out_dir).resolve())
    stdin = stdin or sys.stdin
    exts = frozenset(e.lower() for e in extensions)
    with Manifest(db if db is not None else out / DB_NAME) as manifest, _Seen() as seen:
        total = None if "-" in inputs else sum(i.warning is None for i in _iter_inputs(inputs, exts, stdin))
        shared = _SharedScorer(lambda: scorer or load_scorer(cfg.scoring, resolve_device(cfg.runtime.device)))
        with _progress_bar(total, progress) as bar:
            run = _Run(manifest, seen, bar, cfg, out, retry_failed=retry_failed, force=force)
            pool = _Workers(workers, cfg, shared)
            try:
                for item in _iter_inputs(inputs, exts, stdin):
                    run.offer(item, pool)
                while pool.in_flight:
                    run.commit(pool.wait())
            except BaseException:
                pool.abort()  # workers finish their video; its row stays pending for the next run
                raise
            pool.close()
        return run.summary(time.perf_counter() - start, shared.busy_s, str(manifest.path))


def format_summary(summary: BatchSummary) -> str:
    """The lines the CLI prints on stderr when a batch run ends."""
    s = summary
    lines = [
        f"streamthumb batch: {s.done} done, {s.skipped} skipped, {s.failed} failed"
        + (f", {s.duplicates} duplicate inputs ignored" if s.duplicates else "")
        + (f", {s.warning_count} warnings" if s.warning_count else ""),
        f"  {s.video_seconds / 3600:.2f} h of video in {s.wall_s:.1f} s: {s.videos_per_hour:.0f} videos/hour, "
        f"scorer busy {s.scorer_busy:.0%}",
    ]
    if not s.videos:
        lines.append("  no video found in the inputs: nothing was done (exit code 1)")
    if s.previously_failed:
        lines.append(f"  {s.previously_failed} skipped videos failed in an earlier run; --retry-failed retries them")
    lines += _listed("failed", [f.reason for f in s.failures], s.failed)
    lines += _listed("warnings", list(s.warnings), s.warning_count)
    lines.append(f"  manifest: {s.db} (streamthumb export --db {s.db} --format csv)")
    return "\n".join(lines)


def _listed(title: str, lines: list[str], total: int) -> list[str]:
    """A titled, indented block of summary lines, saying how many were left out."""
    if not lines:
        return []
    more = [f"    ... and {total - len(lines)} more"] if total > len(lines) else []
    return [f"  {title}:", *(f"    {line}" for line in lines), *more]


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    path: str
    """As listed; relative paths are relative to the working directory."""
    problem: str | None = None
    """Set when a folder cannot even be listed."""
    warning: str | None = None
    """Set when an input held no video: not a video itself, only news for the summary."""


def _check_inputs(inputs: Sequence[str]) -> None:
    """Fail before any work on a mistyped path or a missing ``@FILE``, not midway through the library.

    Paths inside lists are not checked here: a list is the user's inventory, so its missing
    files become failed rows, which is news worth keeping.

    Raises:
        InputError: the first input that does not exist, or a list that cannot be read.
    """
    for arg in inputs:
        if arg == "-":
            continue
        if arg.startswith("@"):
            if not (os.path.isfile(arg[1:]) and os.access(arg[1:], os.R_OK)):
                raise InputError(f"{arg}: cannot read the list of paths {arg[1:]!r}; check the name after @")
        elif not os.path.lexists(arg):  # a broken link exists: it gets a row saying it is broken
            raise InputError(f"{arg}: no such file or folder")


def _iter_inputs(inputs: Sequence[str], exts: frozenset[str], stdin: TextIO) -> Iterator[_Input]:
    for arg in inputs:
        if arg == "-":
            yield from _iter_listed(stdin, exts, "- (standard input)")
        elif arg.startswith("@"):
            with open(arg[1:], encoding="utf-8", errors="surrogateescape") as fh:
                yield from _iter_listed(fh, exts, arg)
        else:
            yield from _iter_path(arg, exts)


def _iter_listed(lines: TextIO, exts: frozenset[str], name: str) -> Iterator[_Input]:
    listed = 0
    for line in lines:
        path = line.strip()
        if path and not path.startswith("#"):
            listed += 1
            yield from _iter_path(path, exts)
    if not listed:
        yield _Input(name, warning=f"{name}: lists no paths")


def _iter_path(path: str, exts: frozenset[str]) -> Iterator[_Input]:
    """The videos of ``path``; a folder that holds none yields a warning instead."""
    if not os.path.isdir(path):
        yield _Input(path)  # missing files and broken links fail with the decoder's reason
        return
    found = 0
    for item in _walk(path, exts):
        found += 1
        yield item
    if not found:
        yield _Input(path, warning=f"{path}: no video files ({_looked_for(exts)}) found; --ext changes the list")


def _looked_for(exts: frozenset[str]) -> str:
    """The extensions a walk looked for, common ones first, at most five of them named."""
    if not exts:
        return "no extensions given"
    names = sorted(exts, key=lambda e: (_SHOWN_FIRST.index(e) if e in _SHOWN_FIRST else len(_SHOWN_FIRST), e))
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more


def _manifest_key(path: str) -> str:
    """The resolved path, except for a broken symlink: then the link itself, its folder resolved.

    A broken link's target is not what the user listed and may never exist; keyed by the
    target, the row and the video id would name a file nobody can find.
    """
    if os.path.islink(path) and not os.path.exists(path):
        parent, name = os.path.split(os.path.abspath(path))
        return os.path.join(os.path.realpath(parent), name)
    return os.path.realpath(path)


def _walk(folder: str, exts: frozenset[str]) -> Iterator[_Input]:
    """Videos under ``folder`` in name order, one directory listing in memory per level.

    Symlinked folders are not followed, so a link back up the tree cannot loop.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield _Input(folder, f"{folder}: cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, exts)
        elif os.path.splitext(entry.name)[1].lower() in exts:
            yield _Input(entry.path)


class _Seen:
    """Videos met in this run, in a temporary SQLite table so memory stays flat at any size."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect("", isolation_level=None)  # "" is a private temp file
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE seen (path TEXT PRIMARY KEY)")

    def add(self, path: str) -> bool:
        """True the first time ``path`` is added."""
        return self._conn.execute("INSERT OR IGNORE INTO seen VALUES (?)", (path,)).rowcount == 1

    def __enter__(self) -> _Seen:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


# -- workers ---------------------------------------------------------------------------------


class _SharedScorer(Scorer):
    """The one model every worker's picker uses; calls take turns and their time is summed.

    Taking turns keeps batches whole: concurrent calls would only split the same GPU, or
    oversubscribe the CPU cores torch's own thread pool already uses.

    Args:
        load: Returns the model; called once, by ``load``, when the first video needs it.
    """

    def __init__(self, load: Callable[[], Scorer]):
        self.busy_s = 0.0
        self._load = load
        self._inner: Scorer | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model if not yet loaded: a rerun that skips every video loads none.

        Raises:
            ModelError: the model cannot be loaded.
        """
        if self._inner is None:
            self._inner = self._load()
            self.device = self._inner.device

    def score(self, images: torch.Tensor) -> torch.Tensor:
        assert self._inner is not None, "load() before the first video"
        with self._lock:
            start = time.perf_counter()
            try:
                return self._inner.score(images)
            finally:
                self.busy_s += time.perf_counter() - start


@dataclass(frozen=True)
class _Task:
    listed: str
    path: str
    """Resolved; the manifest key."""
    thumbs: Path


@dataclass(frozen=True)
class _Outcome:
    task: _Task
    stamp: FileStamp | None
    """None when the file cannot even be stat'ed."""
    timings: Mapping[str, float]
    picks: tuple[Mapping[str, Any], ...] = ()
    duration: float | None = None
    frames: int | None = None
    truncated: bool | None = None
    corrupt_packets: int | None = None
    error: str | None = None

    @property
    def damage(self) -> str | None:
        """A warning line when the video was done from a damaged file, else None."""
        problems = ["truncated (the video ended early)"] if self.truncated else []
        if self.corrupt_packets:
            s = "s" if self.corrupt_packets != 1 else ""
            problems.append(f"{self.corrupt_packets} corrupt packet{s} skipped")
        return f"{self.task.listed}: {', '.join(problems)}" if problems else None


class _Workers:
    """Decode workers behind a bounded queue; the caller commits what they hand back.

    At most ``limit`` videos are in flight (queued, being processed, or done and waiting to
    be committed), which bounds both queues and the memory of a run of any size.
    """

    def __init__(self, count: int, config: Config, scorer: _SharedScorer):
        self.limit = 2 * count  # one queued behind each busy worker keeps all of them fed
        self.in_flight = 0
        self._count, self._config, self._scorer = count, config, scorer
        self._tasks: queue.Queue[_Task | None] = queue.Queue(maxsize=self.limit)
        self._results: queue.Queue[_Outcome] = queue.Queue()  # never holds more than `limit`
        self._threads: list[threading.Thread] = []

    def _start(self) -> None:
        self._scorer.load()
        self._threads = [
            threading.Thread(target=self._work, name=f"streamthumb-batch-{i}", daemon=True) for i in range(self._count)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit

    def submit(self, task: _Task) -> None:
        """Queue a video; call only when not ``full``, so this never blocks.

        Raises:
            ModelError: the first video loads the scorer, and it cannot be loaded.
        """
        if not self._threads:
            self._start()
        self._tasks.put_nowait(task)
        self.in_flight += 1

    def ready(self) -> Iterator[_Outcome]:
        """Outcomes already finished, without waiting."""
        while True:
            try:
                outcome = self._results.get_nowait()
            except queue.Empty:
                return
            self.in_flight -= 1
            yield outcome

    def wait(self) -> _Outcome:
        """The next finished outcome.

        Raises:
            RuntimeError: every worker thread died, so nothing will come.
        """
        while True:
            try:
                outcome = self._results.get(timeout=_POLL)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads):
                    raise RuntimeError("every streamthumb batch worker thread died") from None
                continue
            self.in_flight -= 1
            return outcome

    def close(self) -> None:
        """Let the workers finish and stop them."""
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()

    def abort(self) -> None:
        """Drop queued videos, then stop the workers after their current one."""
        while True:
            try:
                self._tasks.get_nowait()
            except queue.Empty:
                break
        self.close()

    def _work(self) -> None:
        """Process tasks until told to stop; every task gets an outcome, so ``wait`` never hangs."""
        try:
            # One face detector per thread: OpenCV's cascade must not be shared between threads.
            faces = make_face_detector(self._config.faces) if self._config.faces.enabled else None
        except StreamthumbError as exc:
            setup_error: str | None = str(exc)
        else:
            setup_error = None
        while (task := self._tasks.get()) is not None:
            try:
                if setup_error is not None:
                    raise ModelError(setup_error)
                outcome = _process(task, self._config, self._scorer, faces)
            except BaseException as exc:  # the row names it; the thread lives on
                outcome = _Outcome(task, None, {}, error=f"{task.listed}: {type(exc).__name__}: {exc}")
            self._results.put(outcome)


def _process(task: _Task, config: Config, scorer: Scorer, faces: FaceDetector | None) -> _Outcome:
    """Pick and write one video's thumbnails; every failure becomes the outcome's error."""
    start = time.perf_counter()
    try:
        stamp: FileStamp | None = file_stamp(task.path)
    except OSError:
        stamp = None  # pick() says why, in the decoder's words
    timings = {"fingerprint": time.perf_counter() - start}
    try:
        _clear(task.thumbs)
        result = pick(task.listed, config, scorer=scorer, face_detector=faces)
        start = time.perf_counter()
        result = write_thumbnails(result, task.thumbs, config.output)
        timings["write"] = time.perf_counter() - start
    except (StreamthumbError, OSError) as exc:
        _clear_quietly(task.thumbs)  # a write that failed midway leaves no partial folder
        return _Outcome(task, stamp, timings, error=_reason(task, exc))
    except Exception as exc:  # a bug must not end a library run; the row names it
        _clear_quietly(task.thumbs)
        bug = f"{task.listed}: {type(exc).__name__}: {exc} (a bug; please report it)"
        return _Outcome(task, stamp, timings, error=bug)
    return _Outcome(
        task,
        stamp,
        {**result.stats.timings, **timings},
        picks=tuple(p.to_dict() for p in result.picks),
        duration=result.duration,
        frames=result.stats.frames_decoded,
        truncated=result.stats.truncated,
        corrupt_packets=result.stats.corrupt_packets,
    )


def _clear(folder: Path) -> None:
    """Remove a video's earlier thumbnails and any temp file a killed run left behind.

    Raises:
        OutputError: the folder cannot be emptied.
    """
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
        folder.rmdir()  # a video that now fails keeps no folder
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot clear the old thumbnails in {folder}: {exc.strerror or exc}") from exc


def _clear_quietly(folder: Path) -> None:
    with contextlib.suppress(OutputError):
        _clear(folder)


def _reason(task: _Task, exc: StreamthumbError | OSError) -> str:
    if os.path.islink(task.listed) and not os.path.exists(task.listed):
        return f"{task.listed}: broken symlink (points to {os.readlink(task.listed)}, which does not exist)"
    if isinstance(exc, StreamthumbError):
        return str(exc) or f"{task.listed}: {type(exc).__name__}"
    return f"{task.listed}: {exc.strerror or exc}"


# -- the main thread ---------------------------------------------------------------------------


class _Run:
    """Decides per video, commits outcomes, and keeps the tally; main thread only."""

    def __init__(
        self, manifest: Manifest, seen: _Seen, bar: tqdm, config: Config, out: Path, *, retry_failed: bool, force: bool
    ):
        self.manifest, self.seen, self.bar, self.out = manifest, seen, bar, out
        self.config_hash = config_hash(config)
        self.retry_failed, self.force = retry_failed, force
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "previously_failed": 0, "duplicates": 0}
        self.video_seconds = 0.0
        self.frames = 0
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.warning_count = 0
        self._start = time.perf_counter()

    def offer(self, item: _Input, pool: _Workers) -> None:
        """Skip, or queue, one input; commits finished outcomes when the pool is full."""
        if item.warning is not None:  # not a video: no row, no progress
            self._warn(item.warning)
            return
        if item.problem is not None:  # a folder, not a video: reported, no manifest row
            self._fail(item.path, item.problem)
            return
        path = _manifest_key(item.path)
        if not self.seen.add(path):
            self._count("duplicates")
            return
        thumbs = self.out / video_id(path)
        row = self.manifest.get(path)
        if not self._needs_work(row, path, thumbs):
            self._count("previously_failed" if row and row.status == "failed" else "skipped")
            return
        while pool.full:
            self.commit(pool.wait())
        self.manifest.mark_pending(path, thumbs=str(thumbs), config_hash=self.config_hash)
        pool.submit(_Task(item.path, path, thumbs))
        for outcome in pool.ready():
            self.commit(outcome)

    def commit(self, o: _Outcome) -> None:
        """Record a finished video; its files are already in place."""
        size, mtime, fingerprint = (o.stamp.size, o.stamp.mtime, o.stamp.fingerprint) if o.stamp else (None, None, None)
        self.manifest.record(
            VideoRecord(
                path=o.task.path,
                status="failed" if o.error else "done",
                config_hash=self.config_hash,
                thumbs=str(o.task.thumbs),
                size=size,
                mtime=mtime,
                fingerprint=fingerprint,
                picks=o.picks,
                error=o.error,
                timings=dict(o.timings),
                duration=o.duration,
                frames=o.frames,
                truncated=o.truncated,
                corrupt_packets=o.corrupt_packets,
                finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            )
        )
        if o.error:
            self._fail(o.task.listed, o.error)
            return
        self.video_seconds += o.duration or 0.0
        self.frames += o.frames or 0
        if o.damage:
            self._warn(o.damage)
        self._count("done")

    def _needs_work(self, row: VideoRecord | None, path: str, thumbs: Path) -> bool:
        if row is None or self.force or row.status == "pending":
            return True
        if row.config_hash != self.config_hash or row.thumbs != str(thumbs) or not self._unchanged(row, path):
            return True
        return row.status == "failed" and self.retry_failed

    def _unchanged(self, row: VideoRecord, path: str) -> bool:
        """Same file as the row's: same size and mtime, or same size and content fingerprint."""
        try:
            st = os.stat(path)
        except OSError:
            return row.size is None  # still missing, as when it failed
        if st.st_size != row.size:
            return False
        if st.st_mtime == row.mtime:
            return True  # like git's index: trust an unchanged stat and read nothing
        try:
            same = file_stamp(path).fingerprint == row.fingerprint
        except OSError:
            return False
        if same:
            self.manifest.touch(path, st.st_mtime)
        return same

    def _fail(self, path: str, reason: str) -> None:
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(Failure(path, reason))
        self._count("failed")

    def _warn(self, message: str) -> None:
        if len(self.warnings) < FAILURES_KEPT:
            self.warnings.append(message)
        self.warning_count += 1

    def _count(self, what: str) -> None:
        self.counts[what] += 1
        elapsed = time.perf_counter() - self._start
        self.bar.update(1)
        self.bar.set_postfix_str(
            f"{self.frames / elapsed if elapsed > 0 else 0:.0f} frames/s, {self.counts['failed']} failed", refresh=False
        )

    def summary(self, wall_s: float, scorer_busy_s: float, db: str) -> BatchSummary:
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
            scorer_busy_s=scorer_busy_s,
            failures=tuple(self.failures),
            db=db,
            warnings=tuple(self.warnings),
            warning_count=self.warning_count,
        )


def _progress_bar(total: int | None, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        unit="video",
        desc="streamthumb batch",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )
