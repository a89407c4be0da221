"""The redo policy: whether a video needs work, from its manifest row and what its file looks like now.

Pure: the caller stats the file and, only when asked, reads its fingerprint; nothing here does
I/O, so every engine (local threads, Ray, a server) skips and redoes exactly the same videos,
and the rules are tested without a file or a database. Like git's index, an unchanged size and
mtime are trusted without reading; only a new mtime on the same size costs a fingerprint.

Example:
    >>> decision = decide(row, FileState(st.st_size, st.st_mtime), config_hash=h, thumbs=folder)
    >>> if decision.action == "compare":
    ...     decision = decide_by_content(row, file_stamp(path).fingerprint)
    >>> decision.work, decision.reason
    (False, 'unchanged')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .library import VideoRecord

__all__ = ["Action", "Decision", "FileState", "Reason", "decide", "decide_by_content"]

Action = Literal["work", "skip", "compare"]
"""``compare``: the size is unchanged but the mtime is not; read the fingerprint and ask
``decide_by_content``."""
Reason = Literal[
    "new",
    "forced",
    "unfinished",
    "settings changed",
    "folder changed",
    "file changed",
    "retry failed",
    "unchanged",
    "failed before",
    "mtime changed",
]


@dataclass(frozen=True)
class FileState:
    """The file as a stat sees it now."""

    size: int
    mtime: float


@dataclass(frozen=True)
class Decision:
    """What to do with one video, and why."""

    action: Action
    reason: Reason
    touch: bool = False
    """Skipped because the content is unchanged under a new mtime: record the new mtime so the
    next run trusts the stat again instead of reading the file."""

    @property
    def work(self) -> bool:
        return self.action == "work"


def decide(
    row: VideoRecord | None,
    state: FileState | None,
    *,
    config_hash: str,
    thumbs: str,
    retry_failed: bool = False,
    force: bool = False,
) -> Decision:
    """Redo, skip, or compare the content, for a video whose row is ``row``.

    Args:
        row: The manifest row, None for a video never seen.
        state: The file now; None when it cannot be stat'ed (missing, a broken link).
        config_hash: ``identity.config_hash`` of this run's settings.
        thumbs: The folder this run would write the video's thumbnails to.
        retry_failed: Redo videos that failed before, even if unchanged.
        force: Redo every video.

    Returns:
        The decision; ``compare`` asks for ``decide_by_content``.
    """
    if row is None:
        return Decision("work", "new")
    if force:
        return Decision("work", "forced")
    if row.status == "pending":
        return Decision("work", "unfinished")  # killed midway: its folder is untrusted
    if row.config_hash != config_hash:
        return Decision("work", "settings changed")
    if row.thumbs != thumbs:
        return Decision("work", "folder changed")
    if state is None:  # still missing, as when it failed: unchanged
        return _unchanged(row, retry_failed) if row.size is None else Decision("work", "file changed")
    if state.size != row.size:
        return Decision("work", "file changed")
    if state.mtime != row.mtime:
        return Decision("compare", "mtime changed")
    return _unchanged(row, retry_failed)


def decide_by_content(row: VideoRecord, fingerprint: str | None, *, retry_failed: bool = False) -> Decision:
    """Settle a ``compare``: the same fingerprint means the same video under a new mtime.

    Args:
        row: The manifest row ``decide`` was given.
        fingerprint: ``identity.file_stamp(path).fingerprint`` now.
        retry_failed: As for ``decide``.
    """
    if fingerprint != row.fingerprint:
        return Decision("work", "file changed")
    decision = _unchanged(row, retry_failed)
    return Decision(decision.action, decision.reason, touch=not decision.work)


def _unchanged(row: VideoRecord, retry_failed: bool) -> Decision:
    """Same file, same settings: skip it, unless it failed and failures are retried."""
    if row.status != "failed":
        return Decision("skip", "unchanged")
    return Decision("work", "retry failed") if retry_failed else Decision("skip", "failed before")
