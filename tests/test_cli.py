import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from streamthumb.cli import main
from synthetic import Segment, write_video

NO_DIVERSITY = ("--set", "select.diversity=0")
"""The tiny model's random weights embed every frame alike; see conftest.tiny_config."""


@pytest.fixture
def run(tiny_clip_dir, tmp_path, capsys):
    """Run the CLI in-process with the tiny model; return (code, stdout, stderr)."""

    def _run(*args: str):
        code = main(["pick", *args, "--model", f"local-dir:{tiny_clip_dir}", "--device", "cpu", *NO_DIVERSITY])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def test_json_output_schema(run, standard_video, tmp_path):
    out_dir = tmp_path / "thumbs"
    code, out, err = run(str(standard_video[0]), "-k", "2", "--out", str(out_dir), "--json", "--quiet")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) >= {"video", "duration", "fps", "width", "height", "shots", "picks", "stats"}
    assert doc["duration"] == pytest.approx(11.0) and doc["fps"] == 25.0 and (doc["width"], doc["height"]) == (320, 240)
    assert [round(s["start"], 2) for s in doc["shots"]] == [0.0, 3.0, 5.0, 7.0, 8.0]
    assert all(set(s) == {"start", "end"} for s in doc["shots"])
    assert [p["rank"] for p in doc["picks"]] == [1, 2]
    for p in doc["picks"]:
        assert set(p) >= {"rank", "t", "path", "score", "shot", "components"}
        assert set(p["components"]) >= {"clip", "sharpness", "face"}
        assert isinstance(p["components"]["face"], bool) and Path(p["path"]).is_file()
    stats = doc["stats"]
    assert stats["frames_decoded"] == 275 and stats["candidates"] >= stats["scored"] > 0
    assert {"decode", "shots", "filters", "clip", "faces", "select"} <= set(stats["timings"])
    assert sorted(p.name for p in (out_dir / "standard").glob("*.jpg")) == sorted(
        Path(p["path"]).name for p in doc["picks"]
    )
    assert doc["requested"] == 2 and doc["shortfall"] is None


def test_text_output_and_summary(run, standard_video, tmp_path):
    code, out, err = run(str(standard_video[0]), "--out", str(tmp_path / "t"))
    assert code == 0
    assert len(out.strip().splitlines()) == 3 and "score" in out
    assert "3 thumbnails of 3 asked from 11.0 s of video" in err and "5 shots" in err


def test_quiet_prints_nothing_on_stderr(run, standard_video, tmp_path):
    code, _, err = run(str(standard_video[0]), "--out", str(tmp_path / "t"), "--quiet")
    assert code == 0 and err == ""


def test_flags_and_set_override_the_config(run, standard_video, tmp_path):
    code, out, _ = run(
        str(standard_video[0]),
        "--json",
        "-q",
        "--no-write",
        "--set",
        "select.k=1",
        "--crop",
        "1:1",
        "--out",
        str(tmp_path / "t"),
    )
    doc = json.loads(out)
    assert code == 0 and len(doc["picks"]) == 1 and doc["picks"][0]["path"] is None
    assert not (tmp_path / "t").exists()


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(path: Path, media: Path) -> Path:
    whole = media / "standard.mp4"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return path


BAD_INPUTS = {
    "missing": (lambda d, m: d / "nope.mp4", "no such file"),
    "directory": (lambda d, m: d, "is a directory"),
    "zero-byte": (lambda d, m: _write(d / "z.mp4", b""), "empty"),
    "not-a-video": (lambda d, m: _write(d / "r.mp4", b"hello\n" * 100), "cannot be read as video"),
    "audio-only": (lambda d, m: _audio_only(d / "a.m4a"), "no video stream"),
    "truncated-mp4": (lambda d, m: _truncated(d / "t.mp4", m), "truncated, corrupt or not a video"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_nonzero(case, run, tmp_path, media, standard_video):
    make, message = BAD_INPUTS[case]
    src = tmp_path / "in"
    src.mkdir()
    out_dir = tmp_path / "out"
    code, out, err = run(str(make(src, media)), "--out", str(out_dir), "--json", "-q")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("streamthumb: error: ") and message in err
    assert not out_dir.exists()  # nothing written, not even an empty folder


@pytest.mark.parametrize(
    ("segments", "k"),
    [([Segment("coffee", 0.2)], 1), ([Segment("coffee", 0.04)], 1)],
    ids=["shorter-than-offset", "single-frame"],
)
def test_tiny_videos_still_get_a_thumbnail(segments, k, run, tmp_path):
    path = tmp_path / "tiny.mp4"
    write_video(path, segments)
    code, out, _ = run(str(path), "--json", "-q", "--out", str(tmp_path / "o"))
    doc = json.loads(out)
    assert code == 0 and len(doc["picks"]) == k and doc["picks"][0]["t"] < 0.2


def test_config_errors_exit_2(run, standard_video, tmp_path):
    code, _, err = run(str(standard_video[0]), "--set", "select.kk=3")
    assert code == 2 and "unknown key 'select.kk'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("select:\n  k: -1\n")
    code, _, err = run(str(standard_video[0]), "--config", str(bad))
    assert code == 2 and "select.k must be >= 1" in err


@pytest.mark.slow
def test_real_process_prints_no_traceback_and_one_json_object(tiny_clip_dir, standard_video, tmp_path):
    base = [sys.executable, "-m", "streamthumb", "pick", "--model", f"local-dir:{tiny_clip_dir}", "-q", *NO_DIVERSITY]
    env = {**os.environ, "STREAMTHUMB_DEBUG": ""}
    bad = subprocess.run([*base, str(tmp_path / "missing.mp4")], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    good = subprocess.run(
        [*base, str(standard_video[0]), "--json", "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env
    )
    assert good.returncode == 0, good.stderr
    assert len(json.loads(good.stdout)["picks"]) == 3


def test_bad_set_value_and_bad_list_are_one_line_errors(run, standard_video, tmp_path, capsys):
    code, _, err = run(str(standard_video[0]), "--set", "scoring.positive=[a")
    assert code == 2 and err.startswith("streamthumb: error: --set scoring.positive") and "Traceback" not in err
    code = main(["batch", f"@{tmp_path}", "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot read the list of paths" in err


def test_reruns_replace_a_videos_thumbnails_and_videos_get_their_own_folders(run, standard_video, tmp_path):
    out = tmp_path / "thumbs"
    assert run(str(standard_video[0]), "-k", "3", "--out", str(out), "-q")[0] == 0
    assert len(list((out / "standard").glob("*.jpg"))) == 3
    code, stdout, _ = run(str(standard_video[0]), "-k", "2", "--out", str(out), "-q", "--json")
    names = sorted(p.name for p in (out / "standard").glob("*.jpg"))
    assert code == 0 and names == sorted(Path(p["path"]).name for p in json.loads(stdout)["picks"])
    assert [n[:3] for n in names] == ["01_", "02_"]  # no stale 03 left behind
    other = tmp_path / "other.mp4"
    other.write_bytes(standard_video[0].read_bytes())
    assert run(str(other), "-k", "1", "--out", str(out), "-q")[0] == 0
    assert sorted(os.listdir(out)) == ["other", "standard"] and len(list((out / "standard").glob("*.jpg"))) == 2
    same_stem = tmp_path / "elsewhere" / "standard.mp4"  # another video with the same name
    same_stem.parent.mkdir()
    same_stem.write_bytes(standard_video[0].read_bytes())
    assert run(str(same_stem), "-k", "1", "--out", str(out), "-q")[0] == 0
    assert len(list((out / "standard").glob("*.jpg"))) == 2  # the first video's thumbnails are untouched
    (extra,) = [p for p in out.iterdir() if p.name.startswith("standard-")]
    assert len(list(extra.glob("*.jpg"))) == 1


def test_thumbnails_get_the_umask_mode_not_0600(run, standard_video, tmp_path):
    old = os.umask(0o022)
    try:
        assert run(str(standard_video[0]), "-k", "1", "--out", str(tmp_path / "t"), "-q")[0] == 0
    finally:
        os.umask(old)
    (thumb,) = (tmp_path / "t" / "standard").glob("*.jpg")
    assert thumb.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["file", "under-a-file", "proc"])
def test_unusable_output_fails_before_decoding(where, run, standard_video, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = {"file": blocker, "under-a-file": blocker / "sub", "proc": Path("/proc/streamthumb-test")}[where]
    import streamthumb.picker

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a video although the output folder is unusable")

    monkeypatch.setattr(streamthumb.picker, "pick", no_decoding)
    code, out_text, err = run(str(standard_video[0]), "--out", str(out), "-q")
    assert code == 1 and out_text == "" and err.startswith("streamthumb: error: cannot ")
    assert len(err.strip().splitlines()) == 1


def test_fewer_picks_than_asked_say_why(run, tmp_path):
    path = tmp_path / "short.mp4"
    write_video(path, [Segment("coffee", 5.0)])
    code, out, err = run(str(path), "-k", "3", "--out", str(tmp_path / "o"))
    assert code == 0 and len(out.strip().splitlines()) < 3
    assert "of 3 asked" in err and "fewer than 3: " in err and "candidate" in err
    code, out, _ = run(str(path), "-k", "3", "--no-write", "--json", "-q")
    doc = json.loads(out)
    assert doc["requested"] == 3 and len(doc["picks"]) < 3 and "candidate" in doc["shortfall"]


def test_one_frame_video_summary_is_not_zero_seconds(run, tmp_path):
    path = tmp_path / "one.mp4"
    write_video(path, [Segment("coffee", 0.04)])
    code, _, err = run(str(path), "-k", "1", "--out", str(tmp_path / "o"))
    assert code == 0 and "1 thumbnail of 1 asked from 0.04 s of video" in err
    assert "1 frame," in err and "1 shot)" in err and "0.0 s" not in err and "0.0x" not in err


def test_progress_bar_only_on_a_terminal_unless_asked(run, standard_video, tmp_path):
    _, _, err = run(str(standard_video[0]), "--out", str(tmp_path / "t"))
    assert "\r" not in err  # capsys is not a TTY
    _, _, err = run(str(standard_video[0]), "--out", str(tmp_path / "t"), "--progress")
    assert "\r" in err or "%|" in err


def test_config_command_prints_the_shipped_defaults(capsys):
    from streamthumb import Config

    assert main(["config"]) == 0
    text = capsys.readouterr().out
    import yaml

    assert Config.from_dict(yaml.safe_load(text)) == Config() and "# " in text
    assert main(["config", "fast"]) == 0 and "keyframes" in capsys.readouterr().out
    assert main(["config", "nope"]) == 2 and "presets are default, fast, quality" in capsys.readouterr().err


def test_version_and_pick_help_show_defaults(capsys):
    import streamthumb

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"streamthumb {streamthumb.__version__}"
    with pytest.raises(SystemExit):
        main(["pick", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "select.k; default: 3" in text and "(default: thumbs)" in text and "runtime.batch_size; default: 16" in text


@pytest.mark.slow
def test_help_version_and_usage_errors_answer_without_torch(tmp_path):
    for args, code in ((["--help"], 0), (["--version"], 0), (["pick"], 2), (["nope"], 2)):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "streamthumb", *args], capture_output=True, text=True
        )
        assert done.returncode == code, done.stderr[-500:]
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
        assert not imported & {"torch", "open_clip", "av", "cv2"}, args


@pytest.mark.slow
def test_export_into_a_closed_pipe_is_quiet(tiny_clip_dir, standard_video, tmp_path):
    db = tmp_path / "m.db"
    from streamthumb.library import Manifest, VideoRecord

    with Manifest(db) as manifest:
        for i in range(3000):
            manifest.record(VideoRecord(path=f"/v/{i:05d}.mp4", status="done", config_hash="h", thumbs=f"/t/{i}"))
    done = subprocess.run(
        f"{sys.executable} -m streamthumb export --db {db} | head -n 1", shell=True, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.count("\n") == 1
    assert done.stderr == "", done.stderr


def test_explain_lists_every_candidate_with_its_fate(run, standard_video, tmp_path):
    code, out, _ = run(str(standard_video[0]), "-k", "2", "--no-write", "--json", "--explain", "-q")
    doc = json.loads(out)
    cands = doc["candidates"]
    assert code == 0 and len(cands) == doc["stats"]["candidates"]
    assert [c["t"] for c in cands] == sorted(c["t"] for c in cands)
    fates = {c["fate"] for c in cands}
    assert fates <= {"rejected", "evicted", "outranked", "below_top_k", "picked"} and "pending" not in fates
    picked = sorted((c["rank"], c["t"]) for c in cands if c["fate"] == "picked")
    assert picked == [(p["rank"], p["t"]) for p in doc["picks"]]
    rejected = [c for c in cands if c["fate"] == "rejected"]
    assert rejected and all(any(not v["passed"] for v in c["verdicts"]) for c in rejected)
    reasons = [r for c in rejected for r in {v["reason"] for v in c["verdicts"] if not v["passed"]}]
    assert {r: reasons.count(r) for r in set(reasons)} == doc["stats"]["rejected"]
    assert all(c["fate_detail"] for c in cands if c["fate"] in ("outranked", "evicted", "below_top_k", "rejected"))
    assert "candidates" not in json.loads(run(str(standard_video[0]), "--no-write", "--json", "-q")[1])
