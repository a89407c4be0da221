"""What the core tells the edges while it runs, and how the edges stop it.

Library code never draws progress bars or prints: the picker and the batch runner call an
``on_event`` callback with these events, and the CLI's progress bar, a report, the server's job
status or a caller's job system subscribe. A ``CancelToken`` goes the other way: the caller
sets it, the core checks it once per frame and once per batch and stops with ``Cancelled``.

Example:
    >>> token = CancelToken()
    >>> def on_event(event):
    ...     if isinstance(event, Progress) and event.t > 600:
    ...         token.cancel()                      # ten minutes of video are enough
    >>> pick("live.ts", on_event=on_event, cancel=token)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import Cancelled
from .results import CandidateInfo, Result

__all__ = ["CancelToken", "CandidateJudged", "Event", "EventCallback", "Finished", "Progress"]


@dataclass(frozen=True)
class Progress:
    """Decoding advanced: sent for every frame pushed."""

    video: str | None
    t: float
    """Seconds of video done."""
    duration: float | None
    """The stream's length when the source knows it."""
    frames: int


@dataclass(frozen=True)
class CandidateJudged:
    """A candidate went through the filters (and the scorer, if it passed): sent from the
    scoring thread, so a subscriber must be quick and thread-safe."""

    video: str | None
    candidate: CandidateInfo


@dataclass(frozen=True)
class Finished:
    """The picks are chosen."""

    video: str | None
    result: Result


Event = Progress | CandidateJudged | Finished
EventCallback = Callable[[Event], None]


class CancelToken:
    """A flag a caller sets from any thread to stop a running pick."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop; it ends within one frame or one batch."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self, what: str | None = None) -> None:
        """Raise ``Cancelled`` if the token was set.

        Raises:
            Cancelled: the caller cancelled the run.
        """
        if self._event.is_set():
            raise Cancelled(f"{what or 'run'}: cancelled")
