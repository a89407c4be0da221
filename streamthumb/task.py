"""The unit of work every executor runs: one video in, one ``Outcome`` out, never an exception.

``process_one`` clears the video's folder, picks its thumbnails through the shared inference
engine and writes them (each by temp file and rename). Every failure becomes the outcome's
error, so one broken file never ends a library run, and a cancelled video says so, so its row
stays ``pending`` for the next run. Local threads call it today; a Ray task or a webhook
server's job calls the same function, which is why it takes everything it needs as arguments.

Example:
    >>> work = make_worker(config, engine)          # one per thread: it owns a face detector
    >>> outcome = work(VideoTask("a.mp4", "/lib/a.mp4", Path("thumbs/a-1f2e3d4c5b6a7980")))
    >>> outcome.error or outcome.picks
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .engine import InferenceEngine
from .errors import Cancelled, OutputError, StreamthumbError
from .events import CancelToken
from .faces import FaceDetector, make_face_detector
from .identity import FileStamp, file_stamp
from .output import write_thumbnails
from .picker import pick
from .results import Result
from .sources import Source

__all__ = ["Outcome", "VideoTask", "Worker", "make_worker", "process_one"]


@dataclass(frozen=True)
class VideoTask:
    """One video to do, as the caller decided after checking the manifest."""

    listed: str
    """As the user listed it; messages name it this way."""
    path: str
    """Resolved; the manifest key."""
    thumbs: Path
    """The video's own thumbnail folder, emptied before its picks are written."""
    source: Source | None = field(default=None, compare=False)
    """What to read instead of ``listed``: an open file-like object, such as the server's
    checked reader of a URL."""


@dataclass(frozen=True)
class Outcome:
    """What became of one task; the caller commits it to the manifest."""

    task: VideoTask
    stamp: FileStamp | None
    """None when the file cannot even be stat'ed."""
    timings: Mapping[str, float]
    picks: tuple[Mapping[str, Any], ...] = ()
    duration: float | None = None
    frames: int | None = None
    truncated: bool | None = None
    corrupt_packets: int | None = None
    embeddings: np.ndarray | None = field(default=None, repr=False, compare=False)
    """(K, D) float32 embeddings of the picks in rank order; None when the scorer gives none."""
    document: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    """The whole result as ``pick --json`` prints it, with the written paths."""
    error: str | None = None
    cancelled: bool = False
    """The run was cancelled before this video finished: nothing to commit, its row stays pending."""

    @classmethod
    def crashed(cls, task: VideoTask, exc: BaseException) -> Outcome:
        """A failure outside ``process_one``'s own handling, named by type so the row says what."""
        return cls(task, None, {}, error=f"{task.listed}: {type(exc).__name__}: {exc}")

    @property
    def damage(self) -> str | None:
        """A warning line when the video was done from a damaged file, else None."""
        problems = ["truncated (the video ended early)"] if self.truncated else []
        if self.corrupt_packets:
            s = "s" if self.corrupt_packets != 1 else ""
            problems.append(f"{self.corrupt_packets} corrupt packet{s} skipped")
        return f"{self.task.listed}: {', '.join(problems)}" if problems else None


Worker = Callable[[VideoTask], Outcome]
"""One executor slot's unit of work, with its own per-thread state bound in."""


def make_worker(config: Config, engine: InferenceEngine, *, cancel: CancelToken | None = None) -> Worker:
    """``process_one`` bound to the run's settings and engine, with a face detector of its own.

    A detector that cannot be built fails each of this worker's videos with the reason, the
    way today's broken files do, instead of ending the run.

    Args:
        config: Pipeline and output settings.
        engine: The inference engine shared by every worker.
        cancel: Stops the current video and skips the rest.
    """
    try:
        # One face detector per worker: OpenCV's cascade must not be shared between threads.
        faces = make_face_detector(config.faces) if config.faces.enabled else None
    except StreamthumbError as exc:
        return functools.partial(Outcome.crashed, exc=exc)
    return functools.partial(process_one, config=config, engine=engine, face_detector=faces, cancel=cancel)


def process_one(
    task: VideoTask,
    *,
    config: Config,
    engine: InferenceEngine,
    face_detector: FaceDetector | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Pick and write one video's thumbnails; every failure becomes the outcome's error.

    Args:
        task: The video and its folder.
        config: Pipeline and output settings.
        engine: Where candidates are scored, shared with other videos so batches stay full.
        face_detector: This thread's own; built from ``config`` when omitted.
        cancel: Checked before starting and per frame and batch while picking.

    Returns:
        The outcome: picks and stats, or an error, or ``cancelled``.
    """
    if cancel is not None and cancel.cancelled:
        return Outcome(task, None, {}, cancelled=True)
    start = time.perf_counter()
    stamp = _stamp(task.path)
    timings = {"fingerprint": time.perf_counter() - start}
    try:
        _clear(task.thumbs)
        source = task.listed if task.source is None else task.source
        result = pick(source, config, engine=engine, face_detector=face_detector, cancel=cancel)
        start = time.perf_counter()
        result = write_thumbnails(result, task.thumbs, config.output)
        timings["write"] = time.perf_counter() - start
    except Cancelled:
        _clear_quietly(task.thumbs)
        return Outcome(task, stamp, timings, cancelled=True)
    except (StreamthumbError, OSError) as exc:
        _clear_quietly(task.thumbs)  # a write that failed midway leaves no partial folder
        return Outcome(task, stamp, timings, error=_reason(task, exc))
    except Exception as exc:  # a bug must not end a library run; the row names it
        _clear_quietly(task.thumbs)
        bug = f"{task.listed}: {type(exc).__name__}: {exc} (a bug; please report it)"
        return Outcome(task, stamp, timings, error=bug)
    return Outcome(
        task,
        stamp,
        {**result.stats.timings, **timings},
        picks=tuple(p.to_dict() for p in result.picks),
        duration=result.duration,
        frames=result.stats.frames_decoded,
        truncated=result.stats.truncated,
        corrupt_packets=result.stats.corrupt_packets,
        embeddings=_embeddings(result),
        document=result.to_dict(),
    )


def _embeddings(result: Result) -> np.ndarray | None:
    """The picks' embeddings as one (K, D) array, when every pick has one."""
    rows = [p.embedding for p in result.picks if p.embedding is not None]
    if not rows or len(rows) < len(result.picks):
        return None
    return np.stack(rows).astype(np.float32)


def _stamp(path: str) -> FileStamp | None:
    try:
        return file_stamp(path)
    except OSError:
        return None  # pick() says why, in the decoder's words


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


def _reason(task: VideoTask, exc: StreamthumbError | OSError) -> str:
    if os.path.islink(task.listed) and not os.path.exists(task.listed):
        return f"{task.listed}: broken symlink (points to {os.readlink(task.listed)}, which does not exist)"
    if isinstance(exc, StreamthumbError):
        return str(exc) or f"{task.listed}: {type(exc).__name__}"
    return f"{task.listed}: {exc.strerror or exc}"
