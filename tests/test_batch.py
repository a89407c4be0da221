"""Batch mode on a generated library of tiny videos, broken ones included: first run, rerun,
SIGKILL mid-run, simulated crashes between files and rows, changed files, and exports."""

import contextlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

import synthetic
from conftest import ConstantScorer, sigkill_when
from streamthumb import ConfigError, InputError, batch, cli, task
from streamthumb.batch import VideoDone, run_batch
from streamthumb.engine import InferenceEngine
from streamthumb.errors import Cancelled
from streamthumb.events import CancelToken
from streamthumb.executor import ThreadExecutor
from streamthumb.inputs import VIDEO_EXTENSIONS
from streamthumb.library import DB_NAME, Manifest, VideoRecord, read_export
from synthetic import Segment, write_video

K = 2
PHOTOS = sorted(synthetic.PHOTOS)
SIZES = [(64, 48), (96, 72), (128, 96), (160, 120)]
ROOT_READS_ALL = os.geteuid() == 0
ENTRY = [sys.executable, "-m", "streamthumb"]
"""How a user starts the CLI."""


def streamthumb(*argv: str) -> int:
    """``streamthumb ARGV...`` in-process."""
    return cli.main(list(argv))


def make_video(path: Path, i: int) -> Path:
    """A 1-1.6 s two-shot clip; ``i`` varies its photos, length and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shots = [Segment(PHOTOS[i % len(PHOTOS)], 0.5 + 0.1 * (i % 5)), Segment(PHOTOS[(i + 1) % len(PHOTOS)], 0.6)]
    write_video(path, shots, size=SIZES[i % 4], fps=12, seed=i)
    return path


@dataclass(frozen=True)
class Library:
    root: Path
    good: tuple[Path, ...]
    broken: dict[str, str]
    """File name -> a pattern its failure reason matches."""
    inputs: tuple[str, ...]
    """The folder, plus a good video listed a second time."""

    def key(self, path: Path) -> str:
        """The manifest key: the resolved path, or a broken link's own path (its folder resolved)."""
        if path.is_symlink() and not path.exists():
            return str(path.parent.resolve() / path.name)
        return os.path.realpath(path)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("library")
    good = [
        make_video(root / ["", "a", "b/c"][i % 3] / f"clip{i:02d}{['.mp4', '.mkv', '.MOV'][i % 3]}", i)
        for i in range(14)
    ]
    (root / "notes.txt").write_text("not a video; the folder walk skips it")
    sample = good[0].read_bytes()
    files = {
        "empty.mp4": (b"", r"empty\.mp4: file is empty \(0 bytes\)"),
        "garbage.mp4": (np.random.default_rng(0).bytes(4000), r"garbage\.mp4: .*(video|read)"),
        "truncated.mp4": (sample[: len(sample) // 2], r"truncated\.mp4: .*(video|read)"),
        "readme.mov": (b"just some text\n" * 50, r"readme\.mov: .*(video|read)"),
    }
    broken = {name: reason for name, (_, reason) in files.items()}
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    _write_audio_only(root / "song.mp4")
    broken["song.mp4"] = r"song\.mp4: has no video stream"
    (root / "gone.mp4").symlink_to(root / "deleted-long-ago.mp4")
    broken["gone.mp4"] = r"gone\.mp4: broken symlink"
    locked = root / "locked.mp4"
    shutil.copy(good[1], locked)
    locked.chmod(0)
    if ROOT_READS_ALL:
        good.append(locked)
    else:
        broken["locked.mp4"] = r"locked\.mp4: permission denied"
    (root / "alias.mp4").symlink_to(good[2])  # the same video under a second name
    return Library(root, tuple(good), broken, (str(root), str(good[3])))


def _write_audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def tiny_yaml(tiny_config, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config.to_dict()))
    return path


def records(db: Path) -> dict[str, VideoRecord]:
    with Manifest(db, readonly=True) as manifest:
        return {r.path: r for r in manifest.records()}


def assert_consistent(out: Path, lib: Library) -> dict[str, VideoRecord]:
    """One final row per video; each done video's folder holds exactly its whole picks."""
    rows = records(out / DB_NAME)
    done = {p for p, r in rows.items() if r.status == "done"}
    assert done == {lib.key(p) for p in lib.good}
    failed = {p: r for p, r in rows.items() if r.status == "failed"}
    assert set(failed) == {lib.key(lib.root / name) for name in lib.broken}
    for name, pattern in lib.broken.items():
        assert re.search(pattern, failed[lib.key(lib.root / name)].error, re.IGNORECASE), name
    assert len(rows) == len(done) + len(failed)  # nothing pending, nothing else
    folders = {str(p) for p in out.iterdir() if p.is_dir()}
    assert folders == {rows[p].thumbs for p in done}  # failed videos keep no folder
    for path in done:
        rec = rows[path]
        assert 1 <= len(rec.picks) <= K and rec.frames > 0 and rec.duration > 0
        assert sorted(os.listdir(rec.thumbs)) == sorted(Path(p["path"]).name for p in rec.picks)
        for p in rec.picks:
            assert Path(p["path"]).parent == Path(rec.thumbs)
            assert cv2.imread(p["path"]) is not None, p["path"]
    return rows


# -- one run of the whole library through the CLI, then checks on it ----------------------------


@dataclass(frozen=True)
class Run:
    out: Path
    code: int
    stderr: str


@pytest.fixture(scope="module")
def first_run(library, tiny_yaml, tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("first") / "thumbs"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = streamthumb("batch", *library.inputs, "--out", str(out), "--config", str(tiny_yaml), "-k", str(K))
    return Run(out, code, stderr.getvalue())


def test_good_videos_done_broken_ones_failed_with_reasons(first_run, library):
    assert first_run.code == 1
    rows = assert_consistent(first_run.out, library)
    summary = first_run.stderr
    assert f"{len(library.good)} done, 0 skipped, {len(library.broken)} failed, 2 duplicate inputs ignored" in summary
    for rec in rows.values():
        if rec.status == "failed":
            assert rec.error in summary
        else:
            assert {"fingerprint", "decode", "clip", "write", "total"} <= set(rec.timings)
            assert rec.fingerprint.startswith(f"{rec.size}-") and rec.finished_at


def test_rerun_skips_everything(first_run, library, tiny_yaml):
    before = records(first_run.out / DB_NAME)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = streamthumb(
            "batch", *library.inputs, "--out", str(first_run.out), "--config", str(tiny_yaml), "-k", str(K)
        )
    assert code == 1  # the library still holds failed videos
    total = len(library.good) + len(library.broken)
    assert f"0 done, {total} skipped, 0 failed" in stderr.getvalue()
    assert f"{len(library.broken)} skipped videos failed in an earlier run" in stderr.getvalue()
    assert records(first_run.out / DB_NAME) == before


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_round_trips(first_run, fmt, tmp_path, capsys):
    db = first_run.out / DB_NAME
    expected = list(records(db).values())
    capsys.readouterr()
    assert streamthumb("export", "--db", str(db), "--format", fmt) == 0
    assert list(read_export(io.StringIO(capsys.readouterr().out, newline=""), fmt)) == expected
    target = tmp_path / f"all.{fmt}"
    assert streamthumb("export", "--db", str(db), "--format", fmt, "--out", str(target), "--status", "failed") == 0
    with open(target, newline="", encoding="utf-8") as fh:
        assert list(read_export(fh, fmt)) == [r for r in expected if r.status == "failed"]
    assert os.listdir(tmp_path) == [target.name]


def test_export_without_a_manifest_fails_cleanly(tmp_path, capsys):
    assert streamthumb("export", "--db", str(tmp_path / "none.db")) == 1
    assert "no manifest there" in capsys.readouterr().err


# -- crashes -----------------------------------------------------------------------------------


def test_sigkill_mid_run_then_rerun_does_each_video_once(library, tiny_yaml, tmp_path):
    out = tmp_path / "thumbs"
    argv = ["batch", *library.inputs, "--out", str(out), "--config", str(tiny_yaml), "-k", str(K), "--quiet"]
    proc = subprocess.Popen([*ENTRY, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sigkill_when(proc, lambda: _count_done(out / DB_NAME) >= 3, what="three finished videos", timeout=120)
    killed = records(out / DB_NAME)
    assert any(r.status == "pending" for r in killed.values()) or len(killed) < len(library.good) + len(library.broken)
    assert streamthumb(*argv) == 1
    rows = assert_consistent(out, library)
    finished = {p for p, r in killed.items() if r.status == "done"}
    assert all(rows[p] == killed[p] for p in finished)  # done before the kill: left alone


def _count_done(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM videos WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # the table is being created
        return 0
    finally:
        conn.close()


class Crash(BaseException):
    """Stands in for SIGKILL inside the process: nothing after it runs."""


def crash_after(monkeypatch: pytest.MonkeyPatch, commits: int) -> None:
    """Let ``commits`` rows through, then die between a video's files and its row."""
    real = Manifest.record
    seen = []

    def record(self, rec):
        if len(seen) >= commits:
            raise Crash
        seen.append(rec.path)
        real(self, rec)

    monkeypatch.setattr(Manifest, "record", record)


@pytest.fixture
def small(tmp_path) -> Library:
    good = tuple(make_video(tmp_path / "lib" / f"v{i}.mp4", i) for i in range(4))
    return Library(tmp_path / "lib", good, {}, (str(tmp_path / "lib"),))


@pytest.mark.parametrize("force", [False, True], ids=["first-run", "forced-redo"])
def test_crash_between_files_and_rows_is_redone(small, tiny_config, tmp_path, monkeypatch, force):
    out = tmp_path / "thumbs"
    config = tiny_config.with_overrides({"select.k": K})
    if force:
        run_batch(small.inputs, out, config)
    with monkeypatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            run_batch(small.inputs, out, config, workers=2, force=force)
    statuses = [r.status for r in records(out / DB_NAME).values()]
    assert set(statuses) == {"done", "pending"}  # every folder touched after the crash is untrusted
    summary = run_batch(small.inputs, out, config)
    assert (summary.done, summary.skipped, summary.failed) == (
        len(small.good) - statuses.count("done"),
        statuses.count("done"),
        0,
    )
    assert_consistent(out, small)


def test_a_bug_fails_one_video_not_the_run(small, tiny_config, tmp_path, monkeypatch):
    real = task.pick

    def pick(source, *args, **kwargs):
        if Path(source).name == "v1.mp4":
            raise ZeroDivisionError("division by zero")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(task, "pick", pick)
    summary = run_batch(small.inputs, tmp_path / "thumbs", tiny_config)
    assert (summary.done, summary.failed, summary.exit_code) == (3, 1, 1)
    assert re.fullmatch(
        r".*v1\.mp4: ZeroDivisionError: division by zero \(a bug; please report it\)", summary.failures[0].reason
    )


# -- what reruns redo ---------------------------------------------------------------------------


def test_reruns_redo_changed_files_and_settings_only(small, tiny_config, tmp_path, monkeypatch):
    out = tmp_path / "thumbs"
    loads = []
    real_load = batch.load_scorer
    monkeypatch.setattr(batch, "load_scorer", lambda *a: loads.append(1) or real_load(*a))
    config = tiny_config.with_overrides({"select.k": K})
    assert run_batch(small.inputs, out, config, workers=2).done == 4
    assert len(loads) == 1  # one model for the whole run

    touched, edited = small.good[0], small.good[1]
    os.utime(touched, (1_000_000, 1_000_000))
    make_video(edited, 5)
    summary = run_batch(small.inputs, out, config)
    assert (summary.done, summary.skipped) == (1, 3)
    rows = records(out / DB_NAME)
    assert rows[small.key(touched)].mtime == 1_000_000  # same content: recorded, not redone
    assert len(loads) == 2

    assert run_batch(small.inputs, out, config).skipped == 4
    assert len(loads) == 2  # nothing to do: no model loaded

    one = run_batch(small.inputs, out, config.with_overrides({"select.k": 1}))
    assert one.done == 4
    for rec in records(out / DB_NAME).values():
        assert len(rec.picks) == 1 and len(os.listdir(rec.thumbs)) == 1  # the old second pick is gone


def test_retry_failed_and_force(small, tiny_config, tmp_path):
    out = tmp_path / "thumbs"
    bad = small.root / "bad.mp4"
    bad.write_bytes(b"")
    first = run_batch(small.inputs, out, tiny_config)
    assert (first.done, first.failed) == (4, 1)
    again = run_batch(small.inputs, out, tiny_config, retry_failed=True)
    assert (again.done, again.skipped, again.failed, again.previously_failed) == (0, 4, 1, 0)
    make_video(bad, 7)  # fixed: a changed file is retried without asking
    fixed = run_batch(small.inputs, out, tiny_config)
    assert (fixed.done, fixed.failed, fixed.exit_code) == (1, 0, 0)
    forced = run_batch(small.inputs, out, tiny_config, force=True)
    assert (forced.done, forced.skipped) == (5, 0)
    assert_consistent(out, Library(small.root, (*small.good, bad), {}, small.inputs))


# -- events, cancellation and the shared engine ---------------------------------------------------


def test_each_input_is_announced_once_in_order(small, tiny_config, tmp_path):
    events = []
    summary = run_batch([*small.inputs, str(small.good[0])], tmp_path / "thumbs", tiny_config, on_event=events.append)
    assert all(isinstance(e, VideoDone) for e in events)
    assert [e.finished for e in events] == list(range(1, 6)) and {e.total for e in events} == {5}
    assert sorted(e.status for e in events) == ["done"] * 4 + ["duplicate"]
    assert events[-1].frames == summary.frames > 0 and events[-1].failed == 0
    rerun = []
    run_batch(small.inputs, tmp_path / "thumbs", tiny_config, on_event=rerun.append)
    assert [e.status for e in rerun] == ["skipped"] * 4


def test_cancel_after_the_first_video_leaves_pending_rows_and_no_thread(small, tiny_config, tmp_path):
    out = tmp_path / "thumbs"
    token = CancelToken()
    done = []

    def on_event(event):
        if event.status == "done":
            done.append(event.path)
            token.cancel()

    with pytest.raises(Cancelled, match="cancelled; run it again"):
        run_batch(small.inputs, out, tiny_config, workers=2, on_event=on_event, cancel=token)
    assert [t.name for t in threading.enumerate() if t.name.startswith("streamthumb-")] == []
    rows = records(out / DB_NAME)
    finished = {p for p, r in rows.items() if r.status == "done"}
    assert finished == {small.key(Path(p)) for p in done} and 1 <= len(finished) < len(small.good)
    assert {r.status for p, r in rows.items() if p not in finished} <= {"pending"}
    summary = run_batch(small.inputs, out, tiny_config)
    assert (summary.done, summary.skipped) == (len(small.good) - len(finished), len(finished))
    assert_consistent(out, small)


def test_two_workers_share_one_engine_and_its_batches(small, tiny_config, tmp_path, monkeypatch):
    """Two videos' candidates, submitted at the same moment, go to the model as one batch."""
    sizes, held, first, paired = [], [], [], threading.Event()
    lock = threading.Lock()
    real = InferenceEngine.submit

    def submit(self, images):
        with lock:
            sizes.append(len(images))
            n = len(sizes)
            if n == 1:  # hold the first video's batch until the second's is ready ...
                held.append(images)
            elif n == 2:  # ... then queue both back to back
                first.append(real(self, held.pop()))
        if n == 1:
            assert paired.wait(30), "no second video scored"
            return first[0]
        future = real(self, images)
        if n == 2:
            paired.set()
        return future

    monkeypatch.setattr(InferenceEngine, "submit", submit)
    scorer = ConstantScorer()  # records the size of each model call
    summary = run_batch(small.inputs, tmp_path / "thumbs", tiny_config, workers=2, scorer=scorer)
    assert (summary.done, summary.failed) == (len(small.good), 0)
    assert sum(scorer.batches) == sum(sizes) and len(scorer.batches) < len(sizes)  # fewer calls than videos' batches
    assert summary.mean_batch == pytest.approx(sum(sizes) / len(scorer.batches))
    assert summary.mean_batch > sum(sizes) / len(sizes)
    assert f"mean batch {summary.mean_batch:.1f}" in batch.format_summary(summary)


# -- inputs ---------------------------------------------------------------------------------------


def test_list_files_stdin_extensions_and_duplicates(small, tiny_config, tmp_path):
    other = make_video(tmp_path / "elsewhere" / "clip.mp4", 9).rename(tmp_path / "elsewhere" / "clip.bin")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my videos\n{small.good[0]}\n\n  {small.good[1]}  \n{small.root}\n")
    stdin = io.StringIO(f"{other}\n{small.good[0]}\n")
    summary = run_batch([f"@{listing}", "-"], tmp_path / "thumbs", tiny_config, stdin=stdin)
    assert (summary.done, summary.duplicates) == (5, 3)  # a named file is tried whatever its extension
    only_bin = run_batch([str(tmp_path / "elsewhere")], tmp_path / "other", tiny_config, extensions={".bin"})
    assert only_bin.done == 1


def test_a_missing_list_file_stops_before_any_work(tmp_path, tiny_config):
    with pytest.raises(InputError, match=r"@.*nope\.txt: cannot read the list of paths"):
        run_batch([f"@{tmp_path / 'nope.txt'}"], tmp_path / "thumbs", tiny_config)
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        run_batch([], tmp_path / "thumbs", tiny_config, workers=0)


def test_videos_in_flight_stay_bounded(tiny_config, tmp_path, monkeypatch):
    peak = []
    real = ThreadExecutor.submit

    def submit(self, video):
        real(self, video)
        peak.append(self.in_flight)
        assert self.in_flight <= self.limit

    monkeypatch.setattr(ThreadExecutor, "submit", submit)
    paths = "".join(f"{tmp_path}/missing-{i}.mp4\n" for i in range(60))
    summary = run_batch(["-"], tmp_path / "thumbs", tiny_config, workers=1, stdin=io.StringIO(paths))
    assert summary.failed == 60 and max(peak) == 2
    assert all(f.reason.endswith("no such file") for f in summary.failures)


def test_a_broken_link_is_recorded_under_its_own_name(first_run, library):
    link = library.root / "gone.mp4"
    rows = records(first_run.out / DB_NAME)
    row = rows[str(library.root.resolve() / "gone.mp4")]
    assert row.status == "failed" and "broken symlink" in row.error
    assert Path(row.thumbs).name.startswith("gone-")  # not named after the target it never reached
    assert os.path.realpath(link) not in rows


def test_an_empty_folder_or_an_unmatched_ext_warns_and_exits_1(small, tiny_config, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    summary = run_batch([str(empty)], tmp_path / "thumbs", tiny_config)
    assert (summary.videos, summary.exit_code) == (0, 1)
    assert summary.warnings == (
        f"{empty}: no video files (.mp4, .mkv, .mov, .webm, .avi and 11 more) found; --ext changes the list",
    )
    text = batch.format_summary(summary)
    assert f"  warnings:\n    {summary.warnings[0]}" in text and "no video found in the inputs" in text
    wrong_ext = run_batch([str(small.root)], tmp_path / "thumbs", tiny_config, extensions={".avi"})
    assert wrong_ext.exit_code == 1
    assert wrong_ext.warnings == (f"{small.root}: no video files (.avi) found; --ext changes the list",)
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing yet\n")
    assert run_batch([f"@{listing}"], tmp_path / "thumbs", tiny_config).warnings == (f"@{listing}: lists no paths",)


def test_an_empty_folder_next_to_videos_warns_but_succeeds(tiny_config, tmp_path):
    (tmp_path / "empty").mkdir()
    video = make_video(tmp_path / "v.mp4", 0)
    summary = run_batch([str(tmp_path / "empty"), str(video)], tmp_path / "thumbs", tiny_config)
    assert (summary.done, summary.warning_count, summary.exit_code) == (1, 1, 0)


def test_finding_no_video_exits_1_even_when_quiet(tiny_yaml, tmp_path):
    (tmp_path / "empty").mkdir()
    argv = ["batch", str(tmp_path / "empty"), "--out", str(tmp_path / "thumbs"), "--config", str(tiny_yaml)]
    for quiet in ([], ["--quiet"]):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            assert streamthumb(*argv, *quiet) == 1
        assert ("no video files" in stderr.getvalue()) == (not quiet)


def test_a_mistyped_path_stops_before_any_work(small, tiny_config, tmp_path):
    out = tmp_path / "thumbs"
    typo = tmp_path / "vidoes"
    with pytest.raises(InputError, match=rf"^{re.escape(str(typo))}: no such file or folder$"):
        run_batch([str(small.root), str(typo)], out, tiny_config)
    assert not out.exists()  # no manifest, no row, no thumbnails
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert streamthumb("batch", str(typo), "--out", str(out)) == 1
    assert stderr.getvalue() == f"streamthumb: error: {typo}: no such file or folder\n"
    assert not out.exists()


def test_missing_paths_inside_lists_and_broken_links_stay_failed_rows(tiny_config, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'moved.mp4'}\n")
    link = tmp_path / "link.mp4"
    link.symlink_to(tmp_path / "nowhere.mp4")
    summary = run_batch([f"@{listing}", str(link)], tmp_path / "thumbs", tiny_config)
    assert summary.failed == 2
    rows = records(tmp_path / "thumbs" / DB_NAME)
    assert set(rows) == {str(tmp_path.resolve() / "moved.mp4"), str(tmp_path.resolve() / "link.mp4")}
    assert "broken symlink" in rows[str(tmp_path.resolve() / "link.mp4")].error


# -- the command line ---------------------------------------------------------------------------


def test_the_progress_bar_stays_out_of_logs(first_run, tiny_yaml, tmp_path):
    assert "\r" not in first_run.stderr  # stderr was not a terminal
    (tmp_path / "empty").mkdir()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        streamthumb(
            "batch", str(tmp_path / "empty"), "--out", str(tmp_path / "t"), "--config", str(tiny_yaml), "--progress"
        )
    assert "\r" in stderr.getvalue()  # asked for


def test_batch_help_loads_no_torch():
    out = subprocess.run(
        [*ENTRY[:1], "-X", "importtime", *ENTRY[1:], "batch", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--ext LIST" in out.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert imported and not imported & {"torch", "open_clip", "av", "cv2", "streamthumb.batch"}
    assert batch.VIDEO_EXTENSIONS is VIDEO_EXTENSIONS  # still importable from batch
