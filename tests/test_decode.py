import numpy as np
import pytest
import torch

from streamthumb import NoVideoStreamError, VideoOpenError
from streamthumb.decode import VideoReader, small_bgr, to_rgb, upright_size
from synthetic import Segment, photo, rotate_mp4, write_video


def test_every_frame_once_in_order_with_times(standard_video):
    path, _ = standard_video
    with VideoReader(path) as reader:
        times = [t for _, t in reader]
        assert reader.info.fps == pytest.approx(25.0)
        assert (reader.info.width, reader.info.height) == (320, 240)
    assert len(times) == 275  # 11 s at 25 fps: the flush at the end lost nothing
    assert times[0] == 0.0
    assert np.allclose(np.diff(times), 0.04, atol=1e-6)


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "ext"),
    [("libx264", "yuv420p10le", "mp4"), ("ffv1", "yuv444p", "mkv"), ("mpeg4", "yuv420p", "avi")],
)
def test_pixel_formats_convert_to_true_colours(tmp_path, codec, pix_fmt, ext):
    path = tmp_path / f"v.{ext}"
    write_video(path, [Segment("coffee", 0.4)], codec=codec, pix_fmt=pix_fmt, size=(160, 120))
    expected = photo("coffee", 160, 120)[:120, :160].astype(float)
    with VideoReader(path) as reader:
        frame, _ = next(iter(reader))
        rgb = to_rgb(frame).permute(1, 2, 0).numpy().astype(float)
    assert rgb.shape == (120, 160, 3)
    # Lossy codecs blur detail but must not shift colours: compare per-channel means.
    assert np.abs(rgb.mean(axis=(0, 1)) - expected.mean(axis=(0, 1))).max() < 6


def test_rotated_phone_video_comes_out_upright(tmp_path):
    path = tmp_path / "flat.mp4"
    write_video(path, [Segment("astronaut", 0.4)], size=(320, 240))
    rotated = tmp_path / "portrait.mp4"
    rotate_mp4(path, rotated, 90)
    with VideoReader(path) as reader:
        plain = to_rgb(next(iter(reader))[0])
    with VideoReader(rotated) as reader:
        frame, _ = next(iter(reader))
        upright = to_rgb(frame)
    assert upright_size(frame) == (240, 320)
    assert tuple(upright.shape) == (3, 320, 240)
    # 90 degrees clockwise: the stored frame's first column becomes the top row, reversed.
    expected = torch.rot90(plain, k=-1, dims=(1, 2))
    assert (upright.int() - expected.int()).abs().float().mean() < 1.0


def test_small_bgr_is_the_same_picture_for_every_frame_type(standard_video):
    path, _ = standard_video
    with VideoReader(path) as reader:
        frame, _ = next(iter(reader))
        from_av = small_bgr(frame, 80, 60).astype(int)
        rgb = to_rgb(frame)
    from_numpy = small_bgr(rgb.permute(1, 2, 0).numpy(), 80, 60).astype(int)
    from_tensor = small_bgr(rgb, 80, 60).astype(int)
    assert from_av.shape == from_numpy.shape == from_tensor.shape == (60, 80, 3)
    # Different resamplers sample different phases of the detail; the picture must match.
    for other in (from_av, from_tensor):
        assert np.abs(other.mean(axis=(0, 1)) - from_numpy.mean(axis=(0, 1))).max() < 3
        assert np.corrcoef(other.ravel(), from_numpy.ravel())[0, 1] > 0.85  # unrelated pictures: ~0


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p"])
def test_small_bgr_from_the_planes_matches_swscale(pix_fmt, tmp_path):
    """The shot detector's fast route (planes shrunk, then converted) sees the picture swscale
    sees, limited and full range alike."""
    import av

    path = tmp_path / f"{pix_fmt}.mp4"
    write_video(path, [Segment("astronaut", 0.2), Segment("coffee", 0.2)], size=(640, 360), pix_fmt=pix_fmt)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            assert frame.format.name == pix_fmt
            fast = small_bgr(frame, 256, 144).astype(int)
            slow = frame.reformat(256, 144, "bgr24", interpolation="BILINEAR").to_ndarray().astype(int)
            assert fast.shape == slow.shape == (144, 256, 3)
            assert np.abs(fast.mean(axis=(0, 1)) - slow.mean(axis=(0, 1))).max() < 3
            assert np.abs(fast - slow).mean() < 6


def test_small_bgr_of_odd_sizes_and_other_formats_goes_through_swscale(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, [Segment("astronaut", 0.2)], size=(320, 240), pix_fmt="yuv444p")
    with VideoReader(path) as reader:
        frame, _ = next(iter(reader))
    assert small_bgr(frame, 80, 60).shape == (60, 80, 3)
    assert small_bgr(frame.reformat(format="yuv420p"), 81, 61).shape == (61, 81, 3)


def test_corrupt_packets_are_skipped_and_counted(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, [Segment("astronaut", 2.0), Segment("coffee", 2.0)], pix_fmt="yuv420p10le")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for offset in range(len(data) // 4, 3 * len(data) // 4, len(data) // 20):
        data[offset : offset + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with VideoReader(path) as reader:
        frames = sum(1 for _ in reader)
        assert reader.corrupt_packets > 0
    assert 50 <= frames < 100


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda d: d / "missing.mp4", VideoOpenError, "no such file"),
        (lambda d: d, VideoOpenError, "is a directory"),
        (lambda d: _write(d / "empty.mp4", b""), VideoOpenError, r"empty \(0 bytes\)"),
        (
            lambda d: _write(d / "notes.mp4", b"these are not the frames you are looking for\n" * 50),
            VideoOpenError,
            "cannot be read as video",
        ),
    ],
)
def test_unreadable_inputs(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        VideoReader(make(tmp_path))


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = (np.sin(np.arange(16000) / 10) * 0.3).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(NoVideoStreamError, match="has no video stream .*audio"):
        VideoReader(path)


def test_music_with_cover_art_has_no_video_stream(tmp_path):
    """An MP3's album picture is a one-frame "video" stream marked as cover art: not a video."""
    import av

    path = tmp_path / "song.mp3"
    with av.open(str(path), "w") as container:
        audio = container.add_stream("mp3", rate=44100)
        cover = container.add_stream("png", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 64, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture), *cover.encode(None)]:
            container.mux(packet)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 44100), np.float32), format="fltp", layout="mono")
        samples.sample_rate, samples.pts = 44100, 0
        for packet in [*audio.encode(samples), *audio.encode(None)]:
            container.mux(packet)
    with av.open(str(path)) as container:  # the file is what the test means it to be
        assert [s.type for s in container.streams] == ["audio", "video"]
    with pytest.raises(NoVideoStreamError, match=r"has no video stream \(found: audio, cover art\)"):
        VideoReader(path)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_variable_frame_rate_keeps_real_timestamps(tmp_path):
    from fractions import Fraction

    import av

    path = tmp_path / "vfr.mkv"
    times_ms = [0, 40, 80, 200, 240, 700, 740, 1500]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for ms in times_ms:
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), ms % 255, np.uint8), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with VideoReader(path) as reader:
        got = [t for _, t in reader]
    assert got == pytest.approx([ms / 1000 for ms in times_ms], abs=1e-3)


def test_tone_map_flag_leaves_sdr_frames_alone(standard_video):
    """Only PQ and HLG frames take the tone-mapping route; SDR ones convert exactly as before."""
    from streamthumb.decode import analysis_view, hdr_transfer

    path, _ = standard_video
    with VideoReader(path) as reader:
        frame, _ = next(iter(reader))
        assert hdr_transfer(frame) is None
        assert torch.equal(to_rgb(frame), to_rgb(frame, tone_map=False))
        assert torch.equal(analysis_view(frame, 120), analysis_view(frame, 120, tone_map=False))
