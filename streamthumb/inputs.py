"""Where a batch run's videos come from: files, URLs, folders walked by extension, ``@lists`` and stdin.

The inputs are streamed, never all held in memory, and checked before any work, so a mistyped
path stops the run before a manifest exists. An input that holds no video (an empty folder, an
``--ext`` that matches nothing) becomes a warning, not a silent success. Light on purpose: the
CLI lists ``VIDEO_EXTENSIONS`` in ``--help`` without importing torch.

Example:
    >>> check_inputs(["videos/", "@more.txt"])
    >>> for item in iter_inputs(["videos/", "@more.txt"], VIDEO_EXTENSIONS, sys.stdin):
    ...     print(item.warning or item.problem or item.path)
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from .errors import InputError
from .urls import is_url

__all__ = ["VIDEO_EXTENSIONS", "Input", "Seen", "check_inputs", "iter_inputs"]

VIDEO_EXTENSIONS = frozenset(
    ".3gp .avi .flv .m2ts .m4v .mkv .mov .mp4 .mpeg .mpg .mts .mxf .ogv .ts .webm .wmv".split()
)
"""Extensions picked up when walking a folder; files named explicitly are always tried."""
_SHOWN_FIRST = (".mp4", ".mkv", ".mov", ".webm", ".avi")
"""Extensions named first when a warning lists what a folder walk looked for."""


@dataclass(frozen=True)
class Input:
    """One video to consider, or news about an input that held none."""

    path: str
    """As listed; relative paths are relative to the working directory."""
    problem: str | None = None
    """Set when a folder cannot even be listed."""
    warning: str | None = None
    """Set when an input held no video: not a video itself, only news for the summary."""


def check_inputs(inputs: Sequence[str]) -> None:
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
        elif not os.path.lexists(arg) and not is_url(arg):  # a broken link gets a row saying so
            raise InputError(f"{arg}: no such file or folder")


def iter_inputs(inputs: Sequence[str], exts: frozenset[str], stdin: TextIO) -> Iterator[Input]:
    """Every video the inputs name, in order, streamed: a library of any size never sits in memory.

    Args:
        inputs: As ``run_batch`` takes them; ``check_inputs`` has passed them.
        exts: Lower-case extensions, with the dot, that folder walks pick up.
        stdin: Where ``-`` reads its list.
    """
    for arg in inputs:
        if arg == "-":
            yield from _iter_listed(stdin, exts, "- (standard input)")
        elif arg.startswith("@"):
            with open(arg[1:], encoding="utf-8", errors="surrogateescape") as fh:
                yield from _iter_listed(fh, exts, arg)
        else:
            yield from _iter_path(arg, exts)


def _iter_listed(lines: TextIO, exts: frozenset[str], name: str) -> Iterator[Input]:
    listed = 0
    for line in lines:
        path = line.strip()
        if path and not path.startswith("#"):
            listed += 1
            yield from _iter_path(path, exts)
    if not listed:
        yield Input(name, warning=f"{name}: lists no paths")


def _iter_path(path: str, exts: frozenset[str]) -> Iterator[Input]:
    """The videos of ``path``; a folder that holds none yields a warning instead. A URL is one
    video (http(s) through FFmpeg, object stores through fsspec: every node of a cluster reads it)."""
    if is_url(path) or not os.path.isdir(path):
        yield Input(path)  # missing files and broken links fail with the decoder's reason
        return
    found = 0
    for item in _walk(path, exts):
        found += 1
        yield item
    if not found:
        yield Input(path, warning=f"{path}: no video files ({_looked_for(exts)}) found; --ext changes the list")


def _looked_for(exts: frozenset[str]) -> str:
    """The extensions a walk looked for, common ones first, at most five of them named."""
    if not exts:
        return "no extensions given"
    names = sorted(exts, key=lambda e: (_SHOWN_FIRST.index(e) if e in _SHOWN_FIRST else len(_SHOWN_FIRST), e))
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more


def _walk(folder: str, exts: frozenset[str]) -> Iterator[Input]:
    """Videos under ``folder`` in name order, one directory listing in memory per level.

    Symlinked folders are not followed, so a link back up the tree cannot loop.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield Input(folder, f"{folder}: cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, exts)
        elif os.path.splitext(entry.name)[1].lower() in exts:
            yield Input(entry.path)


class Seen:
    """Videos met in this run, in a temporary SQLite table so memory stays flat at any size."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect("", isolation_level=None)  # "" is a private temp file
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE seen (path TEXT PRIMARY KEY)")

    def add(self, path: str) -> bool:
        """True the first time ``path`` is added."""
        return self._conn.execute("INSERT OR IGNORE INTO seen VALUES (?)", (path,)).rowcount == 1

    def __enter__(self) -> Seen:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()
