"""The worker behind ``streamthumb serve``: takes queued jobs, picks their thumbnails, calls back.

Worker threads claim jobs from the ``JobStore`` and run each through ``task.process_one``,
the unit of work batch mode runs, all sharing one ``InferenceEngine`` (one loaded model, with
several videos decoding). A job's source is read through ``fetch.open_source_url``, which
checks it first. A finished job's thumbnails are in ``out/<asset>/<job>/`` (earlier jobs of the asset keep theirs: its
history) and its document in the store; then a callback thread POSTs the result to
``--callback``, signed like the webhooks, with the job id as ``Idempotency-Key``, retrying with
exponential backoff until a 2xx, across restarts too.

Example:
    >>> service = JobService(settings, store, engine, config)
    >>> service.start()          # workers and the callback thread
    >>> service.notify()         # a job was queued
    >>> service.stop()           # running jobs are cancelled and stay queued for the next start
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .engine import InferenceEngine
from .errors import StreamthumbError
from .events import CancelToken
from .faces import make_face_detector
from .fetch import SourcePolicy, open_source_url
from .identity import video_id
from .jobs import Job, JobStore
from .task import VideoTask, process_one
from .webhooks import sign

__all__ = ["JobService", "ServiceSettings"]

_IDLE_POLL = 0.5
"""Seconds a worker waits for a job before looking at the store again."""


@dataclass(frozen=True)
class ServiceSettings:
    """How jobs run and where their results go."""

    out: Path
    workers: int = 2
    policy: SourcePolicy = SourcePolicy(())
    max_duration: float = 4 * 3600.0
    """Seconds of any one video read at most."""
    callback: str | None = None
    """Where each job's result is POSTed."""
    secret: str = ""
    """Signs the callbacks."""
    backoff: float = 1.0
    """Seconds before the first callback retry; doubled each time, at most ``max_backoff``."""
    max_backoff: float = 300.0


class JobService:
    """Worker threads and the callback thread over one job store and one engine.

    Args:
        settings: Output, limits and the callback.
        store: The job store.
        engine: The shared inference engine.
        config: Pipeline settings every job starts from.
    """

    def __init__(self, settings: ServiceSettings, store: JobStore, engine: InferenceEngine, config: Config):
        self.settings, self.store, self.engine, self.config = settings, store, engine, config
        self.callback_failures: Counter[str] = Counter()
        self._wake = threading.Condition()
        self._cancel = CancelToken()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Requeue what a crash left running, then start the threads."""
        self.store.requeue_running(callback=bool(self.settings.callback))
        for i in range(self.settings.workers):
            self._threads.append(threading.Thread(target=self._work, name=f"streamthumb-job-{i}", daemon=True))
        if self.settings.callback:
            self._threads.append(threading.Thread(target=self._deliver, name="streamthumb-callback", daemon=True))
        for thread in self._threads:
            thread.start()

    def notify(self) -> None:
        """Wake the threads: a job was queued or ended."""
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float = 30.0) -> bool:
        """Cancel running jobs (they stay queued for the next start) and join the threads.

        Returns:
            Whether every thread ended within ``timeout`` seconds in all.
        """
        self._cancel.cancel()
        self.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not self.alive

    @property
    def healthy(self) -> bool:
        """Every thread started is still running."""
        return self.alive == len(self._threads)

    @property
    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    # -- jobs -----------------------------------------------------------------------------------

    def _work(self) -> None:
        faces = make_face_detector(self.config.faces) if self.config.faces.enabled else None
        while not self._cancel.cancelled:
            job = self.store.claim()
            if job is None:
                self._idle()
                continue
            start = time.perf_counter()
            document, error = self._run(job, faces)
            if document is None and error is None:
                return  # cancelled: the job stays running, and the next start requeues it
            self.store.finish(
                job.id, result=document, error=error, seconds=time.perf_counter() - start,
                callback=bool(self.settings.callback),
            )  # fmt: skip
            self.notify()

    def _run(self, job: Job, faces: Any) -> tuple[Mapping[str, Any] | None, str | None]:
        """(document, None) when done, (None, reason) when failed, (None, None) when cancelled.

        Never raises: whatever goes wrong with one job ends that job, not the worker.
        """
        try:
            end = min(job.end, self.settings.max_duration) if job.end is not None else self.settings.max_duration
            config = self.config.with_overrides({"decode.start": job.start, "decode.max_duration": end})
            with open_source_url(job.url, self.settings.policy) as reader:
                task = VideoTask(job.url, job.url, self.settings.out / video_id(job.asset_id) / job.id, reader)
                outcome = process_one(task, config=config, engine=self.engine, face_detector=faces, cancel=self._cancel)
        except StreamthumbError as exc:
            return None, str(exc)
        except Exception as exc:  # a bug must not take the worker down; the job says what
            return None, f"{job.url}: {type(exc).__name__}: {exc} (a bug; please report it)"
        if outcome.cancelled:
            return None, None
        return outcome.document, outcome.error

    def _idle(self, seconds: float = _IDLE_POLL) -> None:
        """Wait for a ``notify``, at most ``seconds``."""
        with self._wake:
            self._wake.wait(timeout=seconds)

    # -- callbacks ------------------------------------------------------------------------------

    def _deliver(self) -> None:
        """Send pending callbacks, each again after its backoff, until the service stops."""
        due: dict[str, tuple[float, float]] = {}  # job id -> (next attempt, current backoff)
        while not self._cancel.cancelled:
            now = time.monotonic()
            for job in self.store.pending_callbacks():
                when, backoff = due.get(job.id, (0.0, self.settings.backoff))
                if when > now:
                    continue
                if self._post(job):
                    self.store.callback_sent(job.id)
                    due.pop(job.id, None)
                else:
                    due[job.id] = (time.monotonic() + backoff, min(2 * backoff, self.settings.max_backoff))
            soonest = min((when for when, _ in due.values()), default=now + _IDLE_POLL)
            self._idle(max(0.01, min(_IDLE_POLL, soonest - time.monotonic())))

    def _post(self, job: Job) -> bool:
        """One delivery attempt; True when the receiver answered 2xx."""
        assert self.settings.callback is not None
        body = json.dumps(_payload(job)).encode()
        request = urllib.request.Request(
            self.settings.callback,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": job.id,
                "Streamthumb-Signature": sign(body, self.settings.secret),
            },
        )
        try:
            with _NO_REDIRECTS.open(request, timeout=10) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError as exc:  # a redirect too: the result must reach the URL given
            self.callback_failures[str(exc.code)] += 1
        except Exception:  # unreachable, a broken answer: retried like any failure
            self.callback_failures["unreachable"] += 1
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is a failed delivery: urllib would resend the POST as a bodiless GET


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def _payload(job: Job) -> dict[str, Any]:
    """What the callback carries: the job as ``GET /jobs/{id}`` shows it."""
    return dataclasses.replace(job, callback="sent").to_dict()
