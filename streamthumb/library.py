"""The batch manifest: one SQLite row per video, so a library run can stop anywhere and resume.

The manifest is the only record of what a batch run finished. A row is written ``pending``
before anything touches the video's thumbnail folder and ``done`` or ``failed`` only after its
files are in place, both by UPSERT on the path, so a run killed at any moment leaves at most
some ``pending`` rows, which the next run redoes, and never a second row for a video.

Example:
    >>> with Manifest("thumbs/streamthumb.db") as manifest:
    ...     manifest.record(VideoRecord(path="/v/a.mp4", status="done", config_hash=h, thumbs="/t/a"))
    ...     manifest.get("/v/a.mp4").status
    'done'
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, get_args
from urllib.parse import quote

from .errors import InputError, OutputError, StreamthumbError

try:  # POSIX only; elsewhere two runs on one manifest are not prevented
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DB_NAME",
    "ExportFormat",
    "Manifest",
    "Status",
    "VideoRecord",
    "read_export",
    "write_export",
]

DB_NAME = "streamthumb.db"
"""The manifest's file name inside the output folder, unless ``--db`` says otherwise."""
SCHEMA_VERSION = 3
"""Stored in ``PRAGMA user_version``; a newer file is refused rather than misread, an older one
is migrated on first write. Version 2 added ``truncated`` and ``corrupt_packets``; version 3
added ``repeats`` and the ``pick_embeddings`` table."""
Status = Literal["done", "failed", "pending"]
"""``pending`` means work started and did not finish; the next run redoes it."""
ExportFormat = Literal["jsonl", "csv"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    path        TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('done', 'failed', 'pending')),
    config_hash TEXT NOT NULL,
    thumbs      TEXT NOT NULL,
    size        INTEGER,
    mtime       REAL,
    fingerprint TEXT,
    picks       TEXT NOT NULL DEFAULT '[]',
    error       TEXT,
    timings     TEXT NOT NULL DEFAULT '{}',
    duration    REAL,
    frames      INTEGER,
    finished_at TEXT,
    truncated   INTEGER CHECK (truncated IN (0, 1)),
    corrupt_packets INTEGER,
    repeats     TEXT NOT NULL DEFAULT '[]'
)
"""
_EMBEDDINGS = """
CREATE TABLE IF NOT EXISTS pick_embeddings (
    path   TEXT NOT NULL,
    rank   INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (path, rank)
)
"""
"""The picks' embeddings (float32, little-endian), kept only by runs that flag repeats."""
_ADDED = {
    "truncated": "INTEGER CHECK (truncated IN (0, 1))",
    "corrupt_packets": "INTEGER",
    "repeats": "TEXT NOT NULL DEFAULT '[]'",
}
"""Columns added since version 1, with their types: a migration adds whichever are missing."""
_JSON_FIELDS = ("picks", "timings", "repeats")


@dataclass(frozen=True)
class VideoRecord:
    """One manifest row: where a video's thumbnails are and how they were made."""

    path: str
    """Resolved absolute path of the video; the primary key."""
    status: Status
    config_hash: str
    """``identity.config_hash`` of what the row was made with; another hash means redo."""
    thumbs: str
    """The video's own thumbnail folder."""
    size: int | None = None
    """None when the file could not be read at all."""
    mtime: float | None = None
    fingerprint: str | None = None
    picks: tuple[Mapping[str, Any], ...] = ()
    """``Pick.to_dict()`` of each thumbnail, best first, with its file path."""
    error: str | None = None
    """Why the video failed, as the error's one-line message."""
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per stage for this video."""
    duration: float | None = None
    """Seconds of video, when it decoded."""
    frames: int | None = None
    finished_at: str | None = None
    """ISO 8601 UTC time the row became ``done`` or ``failed``."""
    truncated: bool | None = None
    """The video ended before its container said it would: its thumbnails cover only a part."""
    corrupt_packets: int | None = None
    """Packets the decoder could not decode and skipped; the rest still gave thumbnails."""
    repeats: tuple[Mapping[str, Any], ...] = ()
    """``Repeat.to_dict()`` of each of this video's picks that another video's pick repeats
    (a shared intro or bumper), found by ``batch --flag-repeats``; empty otherwise."""

    def __post_init__(self) -> None:
        if self.status not in get_args(Status):
            raise ValueError(f"VideoRecord.status must be one of {get_args(Status)}, got {self.status!r}")
        if (self.status == "failed") != (self.error is not None):
            wants = "needs" if self.status == "failed" else "has no"
            raise ValueError(f"VideoRecord: a {self.status} row {wants} error")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the shape of one ``export --format jsonl`` line."""
        data = dataclasses.asdict(self)
        data["picks"] = [dict(p) for p in self.picks]
        data["timings"] = dict(self.timings)
        data["repeats"] = [dict(r) for r in self.repeats]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoRecord:
        """Inverse of ``to_dict``."""
        return cls(
            **{
                **data,
                "picks": tuple(data.get("picks") or ()),
                "timings": dict(data.get("timings") or {}),
                "repeats": tuple(data.get("repeats") or ()),
            }
        )


_COLUMNS = tuple(f.name for f in dataclasses.fields(VideoRecord))


class Manifest:
    """The SQLite manifest, owned by one thread (``sqlite3`` enforces that).

    Opening it for writing takes an exclusive lock next to the file, released by the OS even
    on SIGKILL, so two batch runs cannot clear each other's thumbnail folders.

    Args:
        path: The database file; created with its folder when writable.
        readonly: Open an existing manifest for reading only (export), without the lock.

    Raises:
        InputError: ``readonly`` and there is no manifest at ``path``, or it is not one.
        OutputError: the file cannot be created, opened or written, another run holds it, or a
            newer streamthumb wrote it.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False):
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._error: type[StreamthumbError] = InputError if readonly else OutputError
        if readonly:
            if not self.path.is_file():
                raise InputError(f"{self.path}: no manifest there; run `streamthumb batch` first or pass --db")
            self._conn = _connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True)
        else:
            self._lock_fd = _lock(self.path)
        try:
            if not readonly:
                self._conn = _connect(str(self.path))
                self._setup()
            self._check_version()
            self._select = self._select_list()
        except StreamthumbError:
            self.close()
            raise

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement, committed on return; SQLite errors become ours."""
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._error(f"{self.path}: manifest error: {exc}") from exc

    def _setup(self) -> None:
        self._sql("PRAGMA journal_mode=WAL")  # readers (export) never block the run
        self._sql("PRAGMA synchronous=FULL")  # a committed row survives power loss too
        if self._version() < SCHEMA_VERSION:  # a newer file is left untouched, and refused
            self._migrate()

    def _migrate(self) -> None:
        """Create the table, or add the columns an older streamthumb did not write.

        One transaction, so a kill midway leaves the old manifest as it was, still readable by
        the version that wrote it; adding only missing columns also repairs a file whose
        version was never stamped.
        """
        self._sql("BEGIN IMMEDIATE")
        try:
            self._sql(_SCHEMA)
            self._sql(_EMBEDDINGS)
            present = self._present_columns()
            for name, kind in _ADDED.items():
                if name not in present:
                    self._sql(f"ALTER TABLE videos ADD COLUMN {name} {kind}")
            self._sql(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._sql("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def _version(self) -> int:
        return int(self._sql("PRAGMA user_version").fetchone()[0])

    def _present_columns(self) -> set[str]:
        return {row[1] for row in self._sql("PRAGMA table_info(videos)")}

    def _select_list(self) -> str:
        """Columns to read; those an older manifest lacks (read-only, so not migrated) read as
        NULL, or as the empty list for a JSON column."""
        present = self._present_columns()
        missing = {c: ("'[]'" if c in _JSON_FIELDS else "NULL") for c in _COLUMNS if c not in present}
        return ", ".join(f"{missing[c]} AS {c}" if c in missing else c for c in _COLUMNS)

    def _check_version(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise OutputError(f"{self.path}: manifest version {version} is newer than this streamthumb; upgrade it")

    def get(self, path: str) -> VideoRecord | None:
        """The row of ``path``, or None."""
        row = self._sql(f"SELECT {self._select} FROM videos WHERE path = ?", (path,)).fetchone()
        return _from_row(row) if row else None

    def record(self, rec: VideoRecord) -> None:
        """Insert or replace the row of ``rec.path``, committed when this returns."""
        data = rec.to_dict()
        values = [json.dumps(data[c]) if c in _JSON_FIELDS else data[c] for c in _COLUMNS]
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        self._sql(
            f"INSERT INTO videos ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT(path) DO UPDATE SET {updates}",
            values,
        )

    def mark_pending(self, path: str, *, thumbs: str, config_hash: str) -> None:
        """Mark a video as started, before its folder is touched; keeps the rest of its row."""
        self._sql(
            "INSERT INTO videos (path, status, config_hash, thumbs) VALUES (?, 'pending', ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET status = 'pending', error = NULL, "
            "config_hash = excluded.config_hash, thumbs = excluded.thumbs",
            (path, config_hash, thumbs),
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the statements inside one transaction: all of them land, or none (a kill too)."""
        self._sql("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._sql("COMMIT")

    def set_repeats(self, path: str, repeats: Sequence[Mapping[str, Any]]) -> None:
        """Replace the ``repeats`` of an existing row, as when another video now repeats it."""
        self._sql("UPDATE videos SET repeats = ? WHERE path = ?", (json.dumps([dict(r) for r in repeats]), path))

    def store_embeddings(self, path: str, embeddings: Any | None) -> None:
        """Keep a video's picks' embeddings ((K, D) array, rank order), or drop them with None."""
        import numpy as np

        self._sql("DELETE FROM pick_embeddings WHERE path = ?", (path,))
        rows = () if embeddings is None else np.asarray(embeddings, dtype="<f4")
        for rank, row in enumerate(rows, start=1):
            self._sql("INSERT INTO pick_embeddings (path, rank, vector) VALUES (?, ?, ?)", (path, rank, row.tobytes()))

    def embeddings(self, config_hash: str) -> Iterator[tuple[str, Any]]:
        """(path, (K, D) float32 array) of every done video made with ``config_hash`` that has them."""
        import numpy as np

        sql = (
            "SELECT e.path, e.vector FROM pick_embeddings e JOIN videos v ON v.path = e.path "
            "WHERE v.status = 'done' AND v.config_hash = ? ORDER BY e.path, e.rank"
        )
        rows: dict[str, list[Any]] = {}
        for path, blob in self._sql(sql, (config_hash,)):
            rows.setdefault(path, []).append(np.frombuffer(blob, dtype="<f4"))
        for path, vectors in rows.items():
            if len({len(v) for v in vectors}) == 1:  # rows of one model only
                yield path, np.stack(vectors)

    def without_embeddings(self, config_hash: str) -> int:
        """Done videos made with ``config_hash`` that have no kept embeddings (done by a run
        that did not flag repeats): a repeat check cannot see them."""
        sql = (
            "SELECT COUNT(*) FROM videos v WHERE v.status = 'done' AND v.config_hash = ? "
            "AND NOT EXISTS (SELECT 1 FROM pick_embeddings e WHERE e.path = v.path)"
        )
        return int(self._sql(sql, (config_hash,)).fetchone()[0])

    def touch(self, path: str, mtime: float) -> None:
        """Record a new mtime for a file whose content was found unchanged."""
        self._sql("UPDATE videos SET mtime = ? WHERE path = ?", (mtime, path))

    def records(self, status: Status | None = None) -> Iterator[VideoRecord]:
        """Every row (or those with ``status``), by path, streamed from the database."""
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        for row in self._sql(f"SELECT {self._select} FROM videos {where} ORDER BY path", params):
            yield _from_row(row)

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        return dict(self._sql("SELECT status, COUNT(*) FROM videos GROUP BY status").fetchall())

    def __len__(self) -> int:
        return int(self._sql("SELECT COUNT(*) FROM videos").fetchone()[0])

    def close(self) -> None:
        """Close the database and release the lock; safe to call twice, or after a failed open."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(target: str, *, uri: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    try:
        # Autocommit: every statement is its own transaction, committed before it returns.
        return sqlite3.connect(target, uri=uri, isolation_level=None, timeout=30.0, check_same_thread=check_same_thread)
    except sqlite3.Error as exc:
        raise OutputError(f"{target}: cannot open the manifest: {exc}") from exc


def _lock(path: Path) -> int | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the manifest: {exc.strerror or exc}") from exc
    if fcntl is None:  # pragma: no cover
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise OutputError(
            f"{path}: another streamthumb batch run is using this manifest; wait for it or pass another --db"
        ) from exc
    return fd


def _from_row(row: tuple[Any, ...]) -> VideoRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name])
    if data["truncated"] is not None:
        data["truncated"] = bool(data["truncated"])  # SQLite has no bool: stored as 0/1
    return VideoRecord.from_dict(data)


# -- export -------------------------------------------------------------------------------------


def write_export(records: Iterable[VideoRecord], fmt: ExportFormat, out: TextIO) -> int:
    """Write records as JSON lines or CSV (picks and timings as JSON cells); return the count."""
    count = 0
    if fmt == "jsonl":
        for rec in records:
            out.write(json.dumps(rec.to_dict()) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in records:
        row = rec.to_dict()
        writer.writerow({k: _to_cell(k, row[k]) for k in _COLUMNS})
        count += 1
    return count


def read_export(lines: Iterable[str], fmt: ExportFormat) -> Iterator[VideoRecord]:
    """Read back what ``write_export`` wrote, so an export can be checked or merged.

    Raises:
        InputError: a line or cell is not what ``write_export`` writes.
    """
    try:
        if fmt == "jsonl":
            for line in lines:
                if line.strip():
                    yield VideoRecord.from_dict(json.loads(line))
            return
        for row in csv.DictReader(lines):
            yield VideoRecord.from_dict({k: _from_cell(k, v) for k, v in row.items()})
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a streamthumb {fmt} export: {exc}") from exc


def _to_cell(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value)
    return int(value) if isinstance(value, bool) else value  # 0/1, as in the manifest


def _bool_cell(cell: str) -> bool:
    if cell not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {cell!r}")
    return cell == "1"


_CSV_TYPES: dict[str, Callable[[str], Any]] = {
    "size": int,
    "frames": int,
    "mtime": float,
    "duration": float,
    "truncated": _bool_cell,
    "corrupt_packets": int,
}


def _from_cell(name: str, cell: str) -> Any:
    if name in _JSON_FIELDS:
        return json.loads(cell)
    if cell == "":
        return None  # csv writes None as an empty cell; no text column is ever legitimately ""
    return _CSV_TYPES.get(name, str)(cell)
