"""The server's job store: one SQLite row per accepted webhook, so no accepted job is ever lost.

It keeps the batch manifest's conventions (``library``): WAL so readers never block the
workers, ``synchronous=FULL`` so a committed row survives power loss, a lock file so two
servers cannot share one store, and every state change in one transaction. A job is
``queued`` when the webhook is answered, ``running`` while a worker has it, then ``done`` or
``failed`` exactly once. After a crash (SIGKILL included), ``requeue_running`` puts the jobs
that were running back in the queue; their thumbnails are rewritten from an emptied folder.
A job's callback is ``pending`` from the moment it ends until a receiver answers 2xx, so a
restart resumes deliveries too.

Example:
    >>> with JobStore("jobs.db") as store:
    ...     job_id, created = store.add(event, max_queued=1000)
    ...     job = store.claim()                    # a worker's next job, now running
    ...     store.finish(job.id, result_doc, callback=True)
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import OutputError, StreamthumbError
from .library import _connect, _lock
from .webhooks import AssetEvent

__all__ = ["Job", "JobState", "JobStore", "QueueFull"]

JobState = Literal["queued", "running", "done", "failed"]
CallbackState = Literal["none", "pending", "sent"]

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS jobs (
        id          TEXT PRIMARY KEY,
        event_id    TEXT NOT NULL UNIQUE,
        type        TEXT NOT NULL,
        asset_id    TEXT NOT NULL,
        url         TEXT NOT NULL,
        start_s     REAL NOT NULL DEFAULT 0,
        end_s       REAL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        error       TEXT,
        result      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        created_at  REAL NOT NULL,
        finished_at REAL,
        seconds     REAL,
        callback    TEXT NOT NULL DEFAULT 'none' CHECK (callback IN ('none', 'pending', 'sent'))
    )
    """,
    "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, created_at)",
    "CREATE INDEX IF NOT EXISTS jobs_asset ON jobs (asset_id, created_at)",
)
_COLUMNS = (
    "id, event_id, type, asset_id, url, start_s, end_s, status, error, result, attempts, created_at, "
    "finished_at, seconds, callback"
)


class QueueFull(StreamthumbError):
    """The queue holds as many jobs as the server allows: the sender should retry later."""


@dataclass(frozen=True)
class Job:
    """One row of the store."""

    id: str
    event_id: str
    type: str
    asset_id: str
    url: str
    start: float
    end: float | None
    status: JobState
    error: str | None
    result: Mapping[str, Any] | None
    """``pick --json``'s document once done."""
    attempts: int
    """Times a worker started it: more than 1 after a crash mid-job."""
    created_at: float
    finished_at: float | None
    seconds: float | None
    """How long the last attempt took."""
    callback: CallbackState

    def to_dict(self) -> dict[str, Any]:
        """What ``GET /jobs/{id}`` answers."""
        return {
            "job": self.id,
            "asset": self.asset_id,
            "event": {"id": self.event_id, "type": self.type},
            "url": self.url,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "error": self.error,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "callback": self.callback,
            "result": self.result,
        }


class JobStore:
    """The jobs table, shared by the web threads and the workers (one connection, one lock).

    Args:
        path: The database file; created with its folder.

    Raises:
        OutputError: it cannot be created or opened, or another server holds it.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock_fd = _lock(self.path)
        self._mutex = threading.Lock()
        try:
            self._conn = _connect(str(self.path), check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            with self._transaction():
                for statement in _SCHEMA:
                    self._conn.execute(statement)
        except (sqlite3.Error, StreamthumbError) as exc:
            self.close()
            raise OutputError(f"{self.path}: cannot open the job store: {exc}") from exc

    # -- the webhook side -----------------------------------------------------------------------

    def add(self, event: AssetEvent, *, max_queued: int) -> tuple[str, bool]:
        """Queue a job for ``event``, durably, once per event id.

        Returns:
            The job id, and whether this call made it (False: a repeated delivery).

        Raises:
            QueueFull: ``max_queued`` jobs are waiting already.
        """
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM jobs WHERE event_id = ?", (event.event_id,)).fetchone()
            if row:
                return str(row[0]), False
            if conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetchone()[0] >= max_queued:
                raise QueueFull(f"{max_queued} jobs are queued already")
            job_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (id, event_id, type, asset_id, url, start_s, end_s, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, event.event_id, event.type, event.asset_id, event.url, event.start, event.end, time.time()),
            )
            return job_id, True

    # -- the workers' side ----------------------------------------------------------------------

    def requeue_running(self, *, max_attempts: int = 3, callback: bool = False) -> int:
        """Put jobs a crashed server was running back in the queue; return how many.

        A job that was running when the server died ``max_attempts`` times (a video that
        crashes the decoder, or the process out of memory) ends failed instead, so it cannot
        crash-loop the server.
        """
        with self._transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', finished_at = ?, callback = ?, "
                "error = 'the server stopped while running it ' || attempts || ' times; giving up' "
                "WHERE status = 'running' AND attempts >= ?",
                (time.time(), "pending" if callback else "none", max_attempts),
            )
            return conn.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'").rowcount

    def claim(self) -> Job | None:
        """The oldest queued job, now running; None when the queue is empty."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1 WHERE id = ?", (row[0],))
            return self._get(conn, row[0])

    def finish(
        self, job_id: str, *, result: Mapping[str, Any] | None, error: str | None, seconds: float, callback: bool
    ) -> None:
        """End a running job: done with its result, or failed with the reason; once only."""
        status = "failed" if error is not None else "done"
        with self._transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ?, seconds = ?, callback = ? "
                "WHERE id = ? AND status = 'running'",
                (
                    status,
                    None if result is None else json.dumps(result),
                    error,
                    time.time(),
                    seconds,
                    "pending" if callback else "none",
                    job_id,
                ),
            )

    def callback_sent(self, job_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE jobs SET callback = 'sent' WHERE id = ?", (job_id,))

    def pending_callbacks(self) -> list[Job]:
        """Ended jobs whose callback no receiver has taken yet, oldest first."""
        with self._mutex:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE callback = 'pending' ORDER BY finished_at"
            ).fetchall()
        return [_job(r) for r in rows]

    # -- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._mutex:
            return self._get(self._conn, job_id)

    def asset(self, asset_id: str) -> list[Job]:
        """The asset's jobs, newest first: the first is its current state, the rest its history."""
        with self._mutex:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE asset_id = ? ORDER BY created_at DESC, rowid DESC", (asset_id,)
            ).fetchall()
        return [_job(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Jobs per state, every state present."""
        with self._mutex:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {"queued": 0, "running": 0, "done": 0, "failed": 0, **dict(rows)}

    def durations(self) -> tuple[int, float]:
        """(ended jobs, their seconds in all), for the metrics."""
        with self._mutex:
            n, total = self._conn.execute("SELECT COUNT(seconds), TOTAL(seconds) FROM jobs").fetchone()
        return int(n), float(total)

    def close(self) -> None:
        """Close the database (after any transaction in flight) and release the lock."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            with self._mutex:
                conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    @staticmethod
    def _get(conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None


class _Transaction:
    """``with store._transaction() as conn``: the store's lock and one IMMEDIATE transaction."""

    def __init__(self, store: JobStore):
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._mutex.acquire()
        try:
            self._store._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store._mutex.release()
            raise
        return self._store._conn

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        conn = self._store._conn
        try:
            conn.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT (disk full) must not leave it open
                conn.execute("ROLLBACK")
            raise
        finally:
            self._store._mutex.release()


def _job(row: Sequence[Any]) -> Job:
    (job_id, event_id, kind, asset_id, url, start, end, status, error, result, attempts, created, finished,
     seconds, callback) = row  # fmt: skip
    return Job(
        job_id, event_id, kind, asset_id, url, start, end, status, error,
        None if result is None else json.loads(result), attempts, created, finished, seconds, callback,
    )  # fmt: skip
