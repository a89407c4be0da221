"""Picks repeated across a library (shared intros and bumpers): the index, and batch --flag-repeats
on generated videos, across runs, redos and a manifest made before the flag existed."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from streamthumb import Config, cli
from streamthumb.batch import run_batch
from streamthumb.library import Manifest
from streamthumb.repeats import Repeat, RepeatIndex
from streamthumb.scoring import ModelFreeScorer
from synthetic import Segment, write_video


def unit(*rows):
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_index_finds_only_other_videos_picks_above_the_threshold():
    index = RepeatIndex(threshold=0.97)
    index.add("a", unit([1, 0, 0], [0, 1, 0]))
    index.add("b", unit([0, 0, 1]))
    found = index.match("c", unit([0.02, 1, 0], [1, 1, 0], [0, 0, 1]))
    assert [(r.rank, r.video, r.other_rank) for r in found] == [(1, "a", 2), (3, "b", 1)]
    assert found[0].similarity == pytest.approx(0.9998, abs=1e-4)
    assert index.match("a", unit([1, 0, 0])) == []  # never itself


def test_redone_and_removed_videos_no_longer_match():
    index = RepeatIndex(threshold=0.97)
    index.add("a", unit([1, 0, 0]))
    index.add("a", unit([0, 1, 0]))  # redone with other picks
    assert index.match("b", unit([1, 0, 0])) == [] and len(index.match("b", unit([0, 1, 0]))) == 1
    index.remove("a")
    assert index.match("b", unit([0, 1, 0])) == [] and len(index) == 0


def test_the_index_grows_past_its_first_buffer_and_refuses_another_model():
    index = RepeatIndex(threshold=0.999)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(300, 16)).astype(np.float32)
    for i in range(100):
        index.add(f"v{i}", rows[3 * i : 3 * i + 3])
    (hit,) = index.match("new", rows[[250]])
    assert (hit.video, hit.other_rank) == ("v83", 2)
    with pytest.raises(ValueError, match="16"):
        index.add("other-model", np.ones((1, 8), np.float32))


def test_a_repeat_round_trips_and_mirrors():
    r = Repeat(1, "/v/a.mp4", 2, 0.98765)
    assert Repeat.from_dict(r.to_dict()) == Repeat(1, "/v/a.mp4", 2, 0.9877)
    assert r.mirrored("/v/b.mp4") == Repeat(2, "/v/b.mp4", 1, 0.98765)


# -- batch mode --------------------------------------------------------------------------------

BUMPER = Segment("rocket", 2.0)
"""The channel's intro, the same picture at the start of every video that has it."""


def clip(path: Path, *segments: Segment, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, list(segments), size=(320, 240), fps=12, seed=seed)
    return path


@pytest.fixture
def config() -> Config:
    return Config().with_overrides({"select.k": 2, "runtime.device": "cpu", "scoring.model": "none"})


def rows(db: Path) -> dict[str, tuple]:
    with Manifest(db) as m:
        return {Path(r.path).name: r.repeats for r in m.records()}


def test_videos_sharing_an_intro_are_flagged_on_both_rows(tmp_path, config):
    lib = tmp_path / "lib"
    a = clip(lib / "a.mp4", BUMPER, Segment("coffee", 2.0), seed=1)
    b = clip(lib / "b.mp4", BUMPER, Segment("chelsea", 2.0), seed=2)
    clip(lib / "c.mp4", Segment("astronaut", 2.0), Segment("camera", 2.0), seed=3)
    out = tmp_path / "out"
    summary = run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    assert summary.done == 3 and summary.repeat_count == 1  # b, done after a, repeats it
    assert "b.mp4: pick" in summary.repeats[0] and str(a.resolve()) in summary.repeats[0]
    found = rows(out / "streamthumb.db")
    assert found["c.mp4"] == ()
    (ab,) = found["a.mp4"]
    (ba,) = found["b.mp4"]
    assert ab["video"] == str(b.resolve()) and ba["video"] == str(a.resolve())
    assert (ab["rank"], ab["other_rank"]) == (ba["other_rank"], ba["rank"]) and ab["similarity"] >= 0.97


def test_a_later_run_matches_against_what_earlier_runs_kept(tmp_path, config):
    lib = tmp_path / "lib"
    a = clip(lib / "a.mp4", BUMPER, Segment("coffee", 2.0), seed=1)
    out = tmp_path / "out"
    run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    d = clip(lib / "d.mp4", BUMPER, Segment("brick", 2.0), seed=4)
    summary = run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    assert (summary.done, summary.skipped, summary.repeat_count) == (1, 1, 1)  # a was not decoded again
    found = rows(out / "streamthumb.db")
    assert [r["video"] for r in found["d.mp4"]] == [str(a.resolve())]
    assert [r["video"] for r in found["a.mp4"]] == [str(d.resolve())]


def test_a_redone_video_takes_its_links_off_the_other_rows(tmp_path, config):
    lib = tmp_path / "lib"
    clip(lib / "a.mp4", BUMPER, Segment("coffee", 2.0), seed=1)
    b = clip(lib / "b.mp4", BUMPER, Segment("chelsea", 2.0), seed=2)
    out = tmp_path / "out"
    run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    assert all(rows(out / "streamthumb.db").values())
    clip(b, Segment("astronaut", 2.0), Segment("camera", 2.0), seed=5)  # b re-edited: no intro now
    os.utime(b, (1, 1))
    summary = run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    assert (summary.done, summary.repeat_count) == (1, 0)
    assert rows(out / "streamthumb.db") == {"a.mp4": (), "b.mp4": ()}
    with Manifest(out / "streamthumb.db") as m:  # b's new picks replaced its kept embeddings
        kept = dict(m.embeddings(m.get(str(b.resolve())).config_hash))
    assert len(kept[str(b.resolve())]) == 2


def test_without_the_flag_nothing_is_kept_or_flagged(tmp_path, config):
    lib = tmp_path / "lib"
    clip(lib / "a.mp4", BUMPER, Segment("coffee", 2.0), seed=1)
    clip(lib / "b.mp4", BUMPER, Segment("chelsea", 2.0), seed=2)
    out = tmp_path / "out"
    summary = run_batch([str(lib)], out, config, workers=2, scorer=ModelFreeScorer())
    assert summary.repeat_count == 0 and rows(out / "streamthumb.db") == {"a.mp4": (), "b.mp4": ()}
    with Manifest(out / "streamthumb.db") as m:
        assert list(m.embeddings(m.get(str((lib / "a.mp4").resolve())).config_hash)) == []
    later = run_batch([str(lib)], out, config, workers=1, scorer=ModelFreeScorer(), flag_repeats=True)
    assert later.skipped == 2 and later.repeat_count == 0  # nothing was decoded again...
    assert "2 videos done earlier without --flag-repeats" in later.warnings[0]  # ...and the user is told


def test_the_cli_flag_prints_the_repeats_and_exports_them(tmp_path, capsys):
    lib = tmp_path / "lib"
    clip(lib / "a.mp4", BUMPER, Segment("coffee", 2.0), seed=1)
    clip(lib / "b.mp4", BUMPER, Segment("chelsea", 2.0), seed=2)
    out = tmp_path / "out"
    argv = ["batch", str(lib), "--out", str(out), "--model", "none", "-k", "2", "--device", "cpu"]
    assert cli.main([*argv, "--flag-repeats", "--report", str(out / "index.html")]) == 0
    err = capsys.readouterr().err
    assert "picks repeated in other videos" in err
    assert re.search(r"[ab]\.mp4: pick \d = \S+[ab]\.mp4 pick \d \(1\.000\)", err)  # whichever worker ended last
    assert "repeated in other videos: pick" in (out / "index.html").read_text()
    assert cli.main(["export", "--db", str(out / "streamthumb.db"), "--format", "csv"]) == 0
    assert '""other_rank""' in capsys.readouterr().out
