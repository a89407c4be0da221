"""Sources other than a file: stdin pipes, file-like objects, URLs on a local HTTP server (and
unreachable or stalled ones), and --max-duration on an endless generated stream."""

import functools
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from bench.loopback import file_server
from streamthumb import Config, EmptyVideoError, VideoOpenError, pick
from streamthumb.scoring import ModelFreeScorer
from synthetic import Segment, frames_for, write_video

CONFIG = Config().with_overrides({"scoring.model": "none", "runtime.device": "cpu", "select.k": 3})
SHOTS = [Segment(name, 6.0) for name in ("astronaut", "coffee", "rocket", "chelsea", "camera")]
"""30 s: long enough that a source of unknown length samples like one whose length is known."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """The same 30-second video as MP4 (index at the end) and as MPEG-TS (streamable)."""
    root = tmp_path_factory.mktemp("sources")
    mp4 = root / "clip.mp4"
    write_video(mp4, SHOTS, size=(160, 120), fps=8)
    ts = root / "clip.ts"
    with av.open(str(mp4)) as src, av.open(str(ts), "w", format="mpegts") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return {"mp4": mp4, "ts": ts}


def picks(result) -> list[tuple[float, int, float]]:
    return [(p.t, p.shot, round(p.score, 6)) for p in result.picks]


def run(source, config=CONFIG):
    return pick(source, config, scorer=ModelFreeScorer())


class Unseekable(io.RawIOBase):
    """A pipe as FFmpeg sees it: bytes in order, no seeking, no length."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_file_like_objects_give_the_picks_of_the_file(clips):
    expected = picks(run(clips["ts"]))
    assert len(expected) == 3
    with open(clips["ts"], "rb") as fh:
        assert picks(run(fh)) == expected
    assert picks(run(io.BytesIO(clips["ts"].read_bytes()))) == expected
    streamed = run(Unseekable(clips["ts"].read_bytes()))
    assert picks(streamed) == expected and streamed.video == "<stream>"


def test_an_mp4_with_its_index_at_the_end_cannot_come_through_a_pipe(clips):
    with pytest.raises((EmptyVideoError, VideoOpenError), match=r"faststart.*mpegts"):
        run(Unseekable(clips["mp4"].read_bytes()))


def test_pick_dash_reads_stdin(clips, tmp_path):
    cmd = [sys.executable, "-m", "streamthumb", "pick", "-", "--model", "none", "--device", "cpu", "--json"]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path)], input=clips["ts"].read_bytes(), capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    assert doc["video"] == "<stdin>" and len(doc["picks"]) == 3
    assert [(p["t"], p["shot"]) for p in doc["picks"]] == [(t, shot) for t, shot, _ in picks(run(clips["ts"]))]
    assert all(Path(p["path"]).parent == tmp_path / "stdin" for p in doc["picks"])


@pytest.fixture(scope="module")
def http_root(clips):
    """A local HTTP server on a free loopback port, serving the clips' folder."""
    with file_server(clips["mp4"].parent) as url:
        yield url


@pytest.mark.parametrize("name", ["clip.mp4", "clip.ts"])
def test_a_url_gives_the_picks_of_the_file(clips, http_root, name):
    result = run(f"{http_root}/{name}")
    assert result.video == f"{http_root}/{name}"
    assert picks(result) == picks(run(clips[name.split(".")[1]]))


def test_an_mp4_from_a_server_without_ranges_says_why(clips, tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clips["mp4"].parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises((EmptyVideoError, VideoOpenError), match=r"Range requests.*faststart"):
            run(f"http://127.0.0.1:{server.server_address[1]}/clip.mp4")
    finally:
        server.shutdown()
        server.server_close()


def test_a_missing_url_and_a_closed_port_are_one_clear_error(http_root):
    with pytest.raises(VideoOpenError, match=r"nope\.mp4: cannot open \(.*404"):
        run(f"{http_root}/nope.mp4")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(VideoOpenError, match=r"cannot open \(Connection refused\)"):
        run(f"http://127.0.0.1:{port}/clip.mp4")


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections, never sends a byte
    try:
        start = time.monotonic()
        with pytest.raises(VideoOpenError, match=r"no answer within 1 s \(decode\.timeout\)"):
            run(f"http://127.0.0.1:{listener.getsockname()[1]}/live.ts", CONFIG.with_overrides({"decode.timeout": 1}))
        assert time.monotonic() - start < 10
    finally:
        listener.close()


def test_the_cli_says_one_line_for_an_unreachable_url(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "streamthumb", "pick", f"http://127.0.0.1:{port}/a.mp4", "--model", "none"]
    done = subprocess.run([*cmd, "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"streamthumb: error: http://127.0.0.1:{port}/a.mp4: cannot open")
    assert list(tmp_path.iterdir()) == []  # no empty folder left behind


def endless_stream():
    """(reader, stop): an MPEG-TS stream encoded live into a pipe until the reader goes away."""
    read_fd, write_fd = os.pipe()
    rng = np.random.default_rng(0)

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink, av.open(sink, "w", format="mpegts") as out:
                stream = out.add_stream("libx264", rate=8)
                stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
                stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
                for n in range(10**6):  # "endless": far more than any test reads
                    seg = SHOTS[n % len(SHOTS)]
                    for img in frames_for(Segment(seg.photo, 2.0), 160, 120, 8, rng):
                        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                            out.mux(packet)
        except (BrokenPipeError, OSError, av.FFmpegError):
            return  # the reader stopped reading

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return os.fdopen(read_fd, "rb"), thread


def test_max_duration_ends_an_endless_stream(clips):
    reader, producer = endless_stream()
    try:
        result = run(reader, CONFIG.with_overrides({"decode.max_duration": 7.0}))
    finally:
        reader.close()
    producer.join(timeout=30)
    assert not producer.is_alive()
    assert 6.5 <= result.duration <= 7.2 and not result.stats.truncated
    assert len(result.picks) == 3 and all(p.t < 7.0 for p in result.picks)
    assert len(result.shots) >= 3  # cuts every 2 s were found in what was read


def test_max_duration_on_a_file_reads_only_the_start(clips):
    result = run(clips["mp4"], CONFIG.with_overrides({"decode.max_duration": 12.0}))
    assert result.duration == pytest.approx(12.0, abs=0.2) and not result.stats.truncated
    assert result.stats.frames_decoded == 96 and all(p.t < 12.0 for p in result.picks)


def test_a_trim_reads_only_its_part_and_its_shots_start_there(clips):
    result = run(clips["mp4"], CONFIG.with_overrides({"decode.start": 9.0, "decode.max_duration": 21.0}))
    assert result.shots[0].start == 9.0 and result.shots[-1].end == pytest.approx(21.0, abs=0.2)
    assert [round(s.start) for s in result.shots] == [9, 12, 18]  # cuts every 6 s, from the trim's start
    assert all(9.0 <= p.t < 21.0 for p in result.picks) and len(result.picks) == 3


def test_a_short_trim_of_a_long_video_samples_like_a_short_clip(clips):
    result = run(clips["mp4"], CONFIG.with_overrides({"decode.start": 26.0}))
    assert len(result.picks) == 3 and all(p.t >= 26.0 for p in result.picks)
    with pytest.raises(EmptyVideoError, match=r"decode.start=40 s is past the video's end \(30 s\)"):
        run(clips["mp4"], CONFIG.with_overrides({"decode.start": 40.0}))


class Breaks(io.BytesIO):
    """A file whose reads fail in the middle, as a dropped connection does: the MP4 opens (its
    header and index at the ends read fine), and decoding stops halfway."""

    def read(self, size: int = -1) -> bytes:
        if 0.5 <= self.tell() / len(self.getbuffer()) < 0.9:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)


def test_a_source_whose_reads_fail_gives_what_came_before_flagged_truncated(clips):
    result = run(Breaks(clips["mp4"].read_bytes()))
    assert result.stats.truncated and result.picks and result.duration < 20


@pytest.fixture
def object_store(clips):
    """fsspec's in-memory filesystem standing in for s3:// or gs:// (no network, same code path)."""
    import fsspec

    store = fsspec.filesystem("memory")
    store.pipe("/bucket/clip.mp4", clips["mp4"].read_bytes())
    yield "memory://bucket"
    store.rm("/bucket", recursive=True)


def test_an_object_store_url_ffmpeg_cannot_open_is_read_through_fsspec(clips, object_store):
    result = run(f"{object_store}/clip.mp4")
    assert result.video == f"{object_store}/clip.mp4"
    assert picks(result) == picks(run(clips["mp4"]))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("memory://bucket/missing.mp4", "no such object"),
        ("nosuchscheme://bucket/a.mp4", "neither FFmpeg nor fsspec can read nosuchscheme://"),
    ],
)
def test_object_store_failures_are_one_line(object_store, url, says):
    with pytest.raises(VideoOpenError) as info:
        run(url)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_a_batch_of_object_store_urls(object_store, tmp_path):
    from streamthumb.batch import run_batch

    summary = run_batch([f"{object_store}/clip.mp4", f"{object_store}/missing.mp4"], tmp_path / "out", CONFIG)
    assert (summary.done, summary.failed) == (1, 1)
    assert "no such object" in summary.failures[0].reason
