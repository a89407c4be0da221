import io
import json
import sqlite3

import numpy as np
import pytest

from streamthumb import InputError, OutputError, library
from streamthumb.library import SCHEMA_VERSION, Manifest, VideoRecord, read_export, write_export

PICK = {
    "rank": 1,
    "t": 1.5,
    "path": "/t/a/01_00001.500s.jpg",
    "score": 0.25,
    "shot": 0,
    "fallback": False,
    "components": {"clip": 0.2, "sharpness": 80.0, "brightness": 120.0, "face": True, "faces": [[1, 2, 3, 4]]},
}


def done(path="/v/a.mp4", **kw):
    fields = dict(
        status="done",
        config_hash="c1",
        thumbs="/t/a",
        size=10,
        mtime=1.25,
        fingerprint="10-ab",
        picks=(PICK,),
        timings={"decode": 0.5},
        duration=2.0,
        frames=50,
        finished_at="2026-01-01T00:00:00+00:00",
    )
    return VideoRecord(path=path, **{**fields, **kw})


def failed(path="/v/bad.mp4", error="/v/bad.mp4: file is empty (0 bytes)"):
    return VideoRecord(path=path, status="failed", config_hash="c1", thumbs="/t/bad", size=0, error=error)


def test_record_get_and_upsert_keep_one_row_per_path(tmp_path):
    with Manifest(tmp_path / "m.db") as m:
        assert m.get("/v/a.mp4") is None
        m.record(failed("/v/a.mp4", "boom"))
        m.record(done())
        m.record(done())
        assert len(m) == 1
        assert m.get("/v/a.mp4") == done()
        assert m.counts() == {"done": 1}


def test_rows_are_committed_as_soon_as_recorded(tmp_path):
    db = tmp_path / "m.db"
    with Manifest(db) as m:
        m.record(done())
        other = sqlite3.connect(db)  # another process's view, while the writer is still open
        assert other.execute("SELECT status FROM videos").fetchall() == [("done",)]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.close()


def test_mark_pending_keeps_the_rest_of_the_row(tmp_path):
    with Manifest(tmp_path / "m.db") as m:
        m.record(done())
        m.mark_pending("/v/a.mp4", thumbs="/t/a", config_hash="c1")
        m.mark_pending("/v/new.mp4", thumbs="/t/new", config_hash="c1")
        assert m.get("/v/a.mp4") == done(status="pending")
        assert m.get("/v/new.mp4") == VideoRecord(
            path="/v/new.mp4", status="pending", config_hash="c1", thumbs="/t/new"
        )
        assert [r.path for r in m.records("pending")] == ["/v/a.mp4", "/v/new.mp4"]


def test_a_second_writer_is_refused_but_readers_are_not(tmp_path):
    db = tmp_path / "m.db"
    with Manifest(db) as m:
        m.record(done())
        with pytest.raises(OutputError, match=r"another streamthumb batch run is using this manifest"):
            Manifest(db)
        with Manifest(db, readonly=True) as reader:
            assert list(reader.records()) == [done()]
    Manifest(db).close()  # released on close


def test_readonly_needs_an_existing_manifest(tmp_path):
    with pytest.raises(InputError, match=r"no manifest there; run `streamthumb batch` first"):
        Manifest(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_file_that_is_not_a_manifest_is_refused(tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("not sqlite " * 200)
    with pytest.raises(InputError, match=r"notes\.db: manifest error: file is not a database"):
        Manifest(db, readonly=True)
    for _ in range(2):  # the second time, not "another run is using": the failed open released its lock
        with pytest.raises(OutputError, match=r"notes\.db: manifest error: file is not a database"):
            Manifest(db)


def test_a_newer_manifest_is_refused(tmp_path):
    db = tmp_path / "m.db"
    Manifest(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(OutputError, match=r"newer than this streamthumb"):
        Manifest(db)


def test_record_invariants():
    with pytest.raises(ValueError, match="status"):
        done(status="ok")
    with pytest.raises(ValueError, match="needs error"):
        VideoRecord(path="/v", status="failed", config_hash="c", thumbs="/t")
    with pytest.raises(ValueError, match="has no error"):
        done(error="x")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_round_trips(fmt):
    records = [
        done(),
        failed(error='/v/odd, "name".mp4: cannot be read\nsecond line'),
        VideoRecord(path="/v/ünïcode, clip.mp4", status="pending", config_hash="c1", thumbs="/t/u"),
        done("/v/b.mp4", mtime=1795896083.6409261, duration=1 / 3, picks=(), timings={}),
    ]
    buf = io.StringIO(newline="")
    assert write_export(records, fmt, buf) == 4
    buf.seek(0)
    assert list(read_export(buf, fmt)) == records


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_carries_the_damage_columns(fmt):
    records = [done(truncated=True, corrupt_packets=12), done("/v/b.mp4", truncated=False, corrupt_packets=0), failed()]
    buf = io.StringIO(newline="")
    write_export(records, fmt, buf)
    text = buf.getvalue()
    if fmt == "csv":
        header, first = text.splitlines()[:2]
        assert header.endswith(",truncated,corrupt_packets,repeats") and first.endswith(
            ",1,12,[]"
        )  # 0/1, as in the manifest
    else:
        assert '"truncated": true, "corrupt_packets": 12' in text.splitlines()[0]
    back = list(read_export(io.StringIO(text, newline=""), fmt))
    assert back == records and back[0].truncated is True and back[2].truncated is None


def test_an_export_made_before_the_damage_columns_still_reads():
    old_csv = "path,status,config_hash,thumbs,size,mtime,fingerprint,picks,error,timings,duration,frames,finished_at\n"
    old_csv += "/v/a.mp4,pending,c1,/t/a,,,,[],,{},,,\n"
    (rec,) = read_export(io.StringIO(old_csv, newline=""), "csv")
    assert (rec.path, rec.truncated, rec.corrupt_packets) == ("/v/a.mp4", None, None)


def test_read_export_rejects_other_files():
    with pytest.raises(InputError, match="not a streamthumb jsonl export"):
        list(read_export(['{"path": "/v"}'], "jsonl"))


def test_retrying_a_failed_video_that_is_interrupted_leaves_a_readable_row(tmp_path):
    """A failed row marked pending again (a retry killed midway) must still read and export."""
    with Manifest(tmp_path / "m.db") as m:
        m.record(failed())
        m.mark_pending("/v/bad.mp4", thumbs="/t/bad", config_hash="new")
        row = m.get("/v/bad.mp4")
        assert row is not None and row.status == "pending" and row.error is None
        assert row.config_hash == "new"
        assert [r.path for r in m.records()] == ["/v/bad.mp4"]


# -- schema versions ------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE videos (
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
    finished_at TEXT
)
"""
"""The table as streamthumb with manifest version 1 made it."""


def make_v1(db):
    conn = sqlite3.connect(db)
    conn.execute(V1_SCHEMA)
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO videos VALUES ('/v/a.mp4', 'done', 'c1', '/t/a', 10, 1.25, '10-ab', ?, NULL, "
        "'{\"decode\": 0.5}', 2.0, 50, '2026-01-01T00:00:00+00:00')",
        (json.dumps([PICK]),),
    )
    conn.commit()
    conn.close()


def columns(db):
    conn = sqlite3.connect(db)
    try:
        names = [row[1] for row in conn.execute("PRAGMA table_info(videos)")]
        return names, conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_a_version_1_manifest_is_migrated_and_keeps_its_rows(tmp_path):
    db = tmp_path / "m.db"
    make_v1(db)
    with Manifest(db, readonly=True) as reader:  # export reads an old file as it is
        assert list(reader.records()) == [done()]
    names, version = columns(db)
    assert version == 1 and "truncated" not in names
    with Manifest(db) as m:
        assert m.get("/v/a.mp4") == done()
        m.record(done("/v/b.mp4", truncated=True, corrupt_packets=3))
        assert m.get("/v/b.mp4").truncated is True and m.get("/v/b.mp4").corrupt_packets == 3
    names, version = columns(db)
    assert version == SCHEMA_VERSION == 3 and names[-3:] == ["truncated", "corrupt_packets", "repeats"]
    with Manifest(db) as m:  # a second open changes nothing
        assert [r.path for r in m.records()] == ["/v/a.mp4", "/v/b.mp4"]
        assert m.get("/v/a.mp4").repeats == ()  # the added column's default
        m.store_embeddings("/v/a.mp4", np.eye(2, 4, dtype=np.float32))  # the added table
        assert [(p, e.tolist()) for p, e in m.embeddings("c1")] == [("/v/a.mp4", np.eye(2, 4).tolist())]


def test_a_migration_that_fails_midway_leaves_the_old_manifest(tmp_path, monkeypatch):
    db = tmp_path / "m.db"
    make_v1(db)
    monkeypatch.setattr(library, "_ADDED", {"truncated": "INTEGER", "broken": "INTEGER PRIMARY KEY"})
    with pytest.raises(OutputError, match=r"m\.db: manifest error: .*PRIMARY KEY"):
        Manifest(db)
    names, version = columns(db)
    assert version == 1 and "truncated" not in names  # the first ALTER was rolled back too
    monkeypatch.undo()
    with Manifest(db) as m:
        assert list(m.records()) == [done()]


def test_a_new_manifest_has_the_current_schema(tmp_path):
    Manifest(tmp_path / "m.db").close()
    names, version = columns(tmp_path / "m.db")
    assert version == SCHEMA_VERSION and {"truncated", "corrupt_packets", "repeats"} <= set(names)
