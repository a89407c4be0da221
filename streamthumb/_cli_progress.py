"""Progress bars for the CLI, drawn from the core's events: the library itself never draws."""

from __future__ import annotations

import os
import sys
from typing import Any

from .events import Event, Progress

__all__ = ["VideoProgress"]


class VideoProgress:
    """A tqdm bar in seconds of video, fed by ``Progress`` events; a no-op when disabled.

    Args:
        enabled: Draw at all (the CLI asks ``show_progress``).
    """

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._bar: Any = None

    def __call__(self, event: Event) -> None:
        if not self._enabled or not isinstance(event, Progress):
            return
        if self._bar is None:
            self._bar = self._open(event)
        if event.t > self._bar.n:
            self._bar.update(event.t - self._bar.n)

    def _open(self, event: Progress) -> Any:
        from tqdm import tqdm

        name = os.path.basename(event.video or "stream")
        return tqdm(
            total=round(event.duration, 1) if event.duration else None,
            unit="s",
            desc=name[:30],
            file=sys.stderr,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} s video [{elapsed}<{remaining}]",
        )

    def __enter__(self) -> VideoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
