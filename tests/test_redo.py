"""The redo policy, as a pure function: manifest rows and file states in, decisions out, no I/O."""

import pytest

from streamthumb.library import VideoRecord
from streamthumb.redo import Decision, FileState, decide, decide_by_content

HASH, THUMBS = "h1", "/t/a"
NOW = FileState(size=10, mtime=1.25)


def row(status="done", **kw):
    fields = dict(config_hash=HASH, thumbs=THUMBS, size=10, mtime=1.25, fingerprint="10-ab")
    error = "/v/a.mp4: broken" if status == "failed" else None
    return VideoRecord(path="/v/a.mp4", status=status, error=error, **{**fields, **kw})


def policy(rec, state=NOW, **flags):
    return decide(rec, state, config_hash=HASH, thumbs=THUMBS, **flags)


@pytest.mark.parametrize(
    ("rec", "state", "flags", "reason"),
    [
        (None, NOW, {}, "new"),
        (row(), NOW, {"force": True}, "forced"),
        (row("pending"), NOW, {}, "unfinished"),
        (row(config_hash="old"), NOW, {}, "settings changed"),
        (row(thumbs="/elsewhere/a"), NOW, {}, "folder changed"),
        (row(), FileState(11, 1.25), {}, "file changed"),
        (row(), None, {}, "file changed"),  # deleted since it was done
        (row("failed"), NOW, {"retry_failed": True}, "retry failed"),
        (row("failed", size=None, mtime=None), None, {"retry_failed": True}, "retry failed"),
    ],
)
def test_work(rec, state, flags, reason):
    assert policy(rec, state, **flags) == Decision("work", reason)


@pytest.mark.parametrize(
    ("rec", "state", "reason"),
    [
        (row(), NOW, "unchanged"),
        (row("failed"), NOW, "failed before"),
        (row("failed", size=None, mtime=None), None, "failed before"),  # still missing
    ],
)
def test_skip(rec, state, reason):
    assert policy(rec, state) == Decision("skip", reason)
    assert not policy(rec, state).work


def test_force_wins_over_everything_and_pending_over_retry():
    assert policy(row("failed"), None, force=True).reason == "forced"
    assert policy(row("pending", config_hash="old"), NOW).reason == "unfinished"


def test_a_new_mtime_on_the_same_size_asks_for_the_content():
    rec = row()
    assert policy(rec, FileState(10, 9.0)) == Decision("compare", "mtime changed")
    assert decide_by_content(rec, "10-ab") == Decision("skip", "unchanged", touch=True)
    assert decide_by_content(rec, "10-cd") == Decision("work", "file changed")


def test_content_compare_of_a_failed_video():
    rec = row("failed")
    assert decide_by_content(rec, "10-ab") == Decision("skip", "failed before", touch=True)
    assert decide_by_content(rec, "10-ab", retry_failed=True) == Decision("work", "retry failed")
