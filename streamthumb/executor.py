"""Where units of work run: the ``Executor`` protocol and its local-threads implementation.

Batch mode decides what to do and commits what comes back; an executor only decides where and
when each ``process_one`` runs. ``ThreadExecutor`` runs them on a few local threads behind a
bounded queue; ``ray_engine.RayExecutor`` implements the same members on a cluster, so ``run_batch``
needs no change to use one.

Example:
    >>> executor = ThreadExecutor(2, lambda: make_worker(config, engine))
    >>> executor.submit(task)                        # only while not executor.full
    >>> for outcome in executor.completed(wait=True):
    ...     commit(outcome)
    >>> executor.close()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Protocol

from .engine import EngineStats
from .task import Outcome, VideoTask, Worker

__all__ = ["Executor", "ExecutorFactory", "ThreadExecutor"]

_POLL = 0.5
"""Seconds between checks that the workers are alive while waiting for one."""


class Executor(Protocol):
    """Runs tasks somewhere and hands their outcomes back to the one thread that submits."""

    @property
    def in_flight(self) -> int:
        """Tasks submitted whose outcomes ``completed`` has not returned yet."""
        ...

    @property
    def full(self) -> bool:
        """True when ``submit`` must wait: take outcomes first, which bounds a run's memory."""
        ...

    def submit(self, task: VideoTask) -> None:
        """Start ``task``; call only when not ``full``, so this never blocks."""
        ...

    def completed(self, *, wait: bool = False) -> list[Outcome]:
        """Outcomes finished so far; with ``wait``, at least one while any is in flight."""
        ...

    def close(self) -> None:
        """Finish every submitted task, then stop; ``completed`` still returns their outcomes."""
        ...

    def abort(self) -> None:
        """Drop tasks not yet started, and stop after the running ones; their outcomes are lost."""
        ...

    def scorer_stats(self) -> EngineStats | None:
        """The batches and busy time of scorers the executor runs itself; None when the run's
        own engine (in this process) does the scoring."""
        ...


ExecutorFactory = Callable[[int, Callable[[], Worker]], Executor]
"""Builds an executor from a worker count and a function that makes one worker's unit of work."""


class ThreadExecutor:
    """Worker threads behind a bounded queue, started (and their workers made) on the first submit.

    At most ``limit`` tasks are in flight (queued, running, or finished and not yet taken),
    which bounds both queues. Workers are made on the submitting thread, so a model that cannot
    load raises there, and the first task that needs one loads it: a run that skips everything
    loads nothing.

    Args:
        count: Worker threads.
        make_worker: Called once per thread, on the submitting thread.
    """

    def __init__(self, count: int, make_worker: Callable[[], Worker]):
        self.limit = 2 * count  # one queued behind each busy worker keeps all of them fed
        self._count, self._make_worker = count, make_worker
        self._in_flight = 0
        self._tasks: queue.Queue[VideoTask | None] = queue.Queue(maxsize=self.limit)
        self._results: queue.Queue[Outcome] = queue.Queue()  # never holds more than `limit`
        self._threads: list[threading.Thread] = []

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def full(self) -> bool:
        return self._in_flight >= self.limit

    def submit(self, task: VideoTask) -> None:
        """Queue a task.

        Raises:
            ModelError: the first task makes the workers, and the model cannot be loaded.
        """
        if not self._threads:
            self._start()
        self._tasks.put_nowait(task)
        self._in_flight += 1

    def completed(self, *, wait: bool = False) -> list[Outcome]:
        """Raises ``RuntimeError`` when waiting and every worker thread died, so nothing will come."""
        done = [self._next()] if wait and self._in_flight else []
        while True:
            try:
                done.append(self._results.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(done)
        return done

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()

    def abort(self) -> None:
        while True:
            try:
                self._tasks.get_nowait()
            except queue.Empty:
                break
        self.close()

    def scorer_stats(self) -> EngineStats | None:
        return None  # the workers score through the run's engine, which counts for itself

    def _start(self) -> None:
        workers = [self._make_worker() for _ in range(self._count)]
        self._threads = [
            threading.Thread(target=self._run, args=(work,), name=f"streamthumb-batch-{i}", daemon=True)
            for i, work in enumerate(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _next(self) -> Outcome:
        while True:
            try:
                return self._results.get(timeout=_POLL)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads):
                    raise RuntimeError("every streamthumb batch worker thread died") from None

    def _run(self, work: Worker) -> None:
        """Run tasks until told to stop; every task gets an outcome, so ``completed`` never hangs."""
        while (task := self._tasks.get()) is not None:
            try:
                outcome = work(task)
            except BaseException as exc:  # the row names it; the thread lives on
                outcome = Outcome.crashed(task, exc)
            self._results.put(outcome)
