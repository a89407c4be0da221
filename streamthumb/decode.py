"""Decode a video once, straight into memory, with PyAV.

The reader yields ``(frame, seconds)`` pairs: frames stay in FFmpeg's own YUV buffers until a
later stage asks for a small BGR copy (shot detection) or a full RGB tensor (candidates only),
so most frames never pay for a full-resolution colour conversion. PQ and HLG (HDR) frames are
tone-mapped to SDR on the way to RGB (``tonemap``): swscale alone makes them grey and flat.

Example:
    >>> with VideoReader("clip.mp4") as reader:
    ...     for frame, t in reader:
    ...         ...
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
import torch
from av.sidedata.sidedata import SideDataContainer
from av.sidedata.sidedata import Type as SideDataType
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter

from .errors import DecodeError, FrameError, NoVideoStreamError
from .sources import Source, open_source, source_name
from .tonemap import Transfer, hdr_to_sdr

__all__ = [
    "Frame",
    "VideoInfo",
    "VideoReader",
    "analysis_view",
    "check_frame",
    "frame_size",
    "hdr_transfer",
    "keep",
    "scaled_size",
    "small_bgr",
    "to_rgb",
    "upright_size",
]

Frame = av.VideoFrame | np.ndarray | torch.Tensor
"""A frame the picker accepts: a PyAV frame, an (H, W, 3) RGB uint8 array, or a (3, H, W) (or
(H, W, 3)) uint8 tensor on any device. Arrays and tensors are taken as already upright."""

_FALLBACK_FPS = 25.0

_HDR_TRANSFERS: dict[int, Transfer] = {int(ColorTrc.SMPTE2084): "pq", int(ColorTrc.ARIB_STD_B67): "hlg"}
"""Transfer characteristics (``frame.color_trc``) that are tone-mapped, by tonemap's name."""

_HDR_PRIMARIES = {int(ColorPrimaries.BT709): "bt709", int(ColorPrimaries.SMPTE432): "p3-d65"}
"""Primaries of HDR sources other than BT.2020, which HDR uses when it says nothing."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream before decoding."""

    path: str
    codec: str
    pix_fmt: str | None
    width: int
    """Coded width; a rotated video's upright size is in ``Result``."""
    height: int
    """Coded height."""
    fps: float
    duration: float | None
    """Seconds, when the container knows it."""
    frames: int | None
    """Frame count, when the container knows it."""


class VideoReader:
    """Iterate a video's frames in presentation order, in one pass.

    Corrupt packets are skipped and counted rather than fatal, and a file that ends early
    (truncated) yields what it has: a thumbnail picker should do its best with damaged media.

    Args:
        source: A video file, a URL FFmpeg can open, or a readable binary file-like object
            (a pipe, ``sys.stdin.buffer``); see ``sources``.
        threads: Decoder threads, 0 for one per core.
        keyframes_only: Ask the decoder to skip every non-key frame.
        timeout: Seconds a URL may take to connect, and then to send more data.

    Raises:
        VideoOpenError: the source is missing, a directory, unreadable, unreachable or not media.
        NoVideoStreamError: the source has no video stream.
    """

    def __init__(self, source: Source, *, threads: int = 0, keyframes_only: bool = False, timeout: float = 30.0):
        self.path = source_name(source)
        """The source's name: its path or URL, or the stream's name."""
        self.corrupt_packets = 0
        """Packets the decoder rejected and that were skipped."""
        self.truncated = False
        """True when the demuxer stopped on an error before the end of the file."""
        self._container = open_source(source, timeout=timeout)
        try:
            self._stream = _video_stream(self._container, self.path)
            ctx = self._stream.codec_context
            ctx.thread_type = "AUTO"  # frame + slice threading: decode is the floor of the pipeline
            ctx.thread_count = threads
            if keyframes_only:
                ctx.skip_frame = "NONKEY"
            self.info = self._probe()
            self.format_name = self._container.format.name
            """FFmpeg's name of the container format, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``."""
        except BaseException:
            self._container.close()
            raise

    def _probe(self) -> VideoInfo:
        s = self._stream
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = float(rate) if rate else _FALLBACK_FPS
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / av.time_base
        return VideoInfo(
            path=self.path,
            codec=s.codec_context.name,
            pix_fmt=s.codec_context.pix_fmt,
            width=s.codec_context.width,
            height=s.codec_context.height,
            fps=fps,
            duration=duration,
            frames=s.frames or None,
        )

    def __iter__(self) -> Iterator[tuple[av.VideoFrame, float]]:
        time_base = self._stream.time_base or Fraction(1, 90000)
        start = self._stream.start_time
        last_t = -1.0 / self.info.fps
        for frame in self._decode():
            if frame.pts is None:
                t = last_t + 1.0 / self.info.fps  # missing pts: assume the nominal rate
            else:
                if start is None:
                    start = frame.pts
                t = float((frame.pts - start) * time_base)
            t = max(t, 0.0)
            last_t = t
            yield frame, t

    def _decode(self) -> Iterator[av.VideoFrame]:
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.FFmpegError, OSError):
                # A demuxer error mid-file, a stalled URL, a file-like source whose read failed:
                # keep what was decoded, then flush.
                self.truncated = True
                yield from self._flush()
                return
            try:
                yield from packet.decode()
            except av.FFmpegError:
                self.corrupt_packets += 1

    def _flush(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self._stream.codec_context.decode(None)
        except av.FFmpegError:
            self.corrupt_packets += 1

    def close(self) -> None:
        """Release the file and the decoder."""
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _video_stream(container: av.container.InputContainer, path: str) -> av.VideoStream:
    """The first video stream that is not cover art.

    Cover art (an album picture in an MP3 or M4A) is stored as a one-frame "video" stream
    marked ``attached_pic``: a music file with a picture is still audio, so it has no video.
    """
    streams = [
        s
        for s in container.streams.video
        if s.codec_context is not None and not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        kinds = sorted({_kind(s) for s in container.streams})
        raise NoVideoStreamError(f"{path}: has no video stream (found: {', '.join(kinds) or 'no streams'})")
    return streams[0]


def _kind(stream: av.stream.Stream) -> str:
    if stream.disposition & av.stream.Disposition.attached_pic:
        return "cover art"
    return str(stream.type)


def check_frame(frame: object) -> Frame:
    """The frame itself if the picker can take it; say what is wrong otherwise.

    An (H, W, 3) tensor comes back as its (3, H, W) view; a tensor whose first and last sizes
    are both 3 is taken as (3, H, W).

    Raises:
        FrameError: not a PyAV frame, an (H, W, 3) uint8 array or a (3, H, W) or (H, W, 3)
            uint8 tensor, or empty.
    """
    if isinstance(frame, av.VideoFrame):
        return frame
    if isinstance(frame, np.ndarray):
        ok = frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and min(frame.shape[:2]) > 0
        shape, dtype = frame.shape, frame.dtype
    elif isinstance(frame, torch.Tensor):
        shape, dtype = tuple(frame.shape), frame.dtype  # as given, for the message
        if frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] != 3:
            frame = frame.permute(2, 0, 1)  # (H, W, 3), as decoders hand out: a view, no copy
        ok = frame.ndim == 3 and frame.shape[0] == 3 and frame.dtype == torch.uint8 and min(frame.shape[1:]) > 0
    else:
        raise FrameError(
            f"push() takes an av.VideoFrame, an (H, W, 3) uint8 RGB numpy array or a (3, H, W) or (H, W, 3) "
            f"uint8 RGB torch tensor, got {type(frame).__name__}"
        )
    if not ok:
        is_array = isinstance(frame, np.ndarray)
        kind = "(H, W, 3) uint8 RGB array" if is_array else "(3, H, W) or (H, W, 3) uint8 RGB tensor"
        raise FrameError(f"push() needs a non-empty {kind}, got shape {shape} {dtype}")
    return frame


def frame_size(frame: Frame) -> tuple[int, int]:
    """Stored (width, height) of a frame, before any rotation."""
    if isinstance(frame, av.VideoFrame):
        return frame.width, frame.height
    if isinstance(frame, np.ndarray):
        return frame.shape[1], frame.shape[0]
    return frame.shape[-1], frame.shape[-2]


def upright_size(frame: Frame) -> tuple[int, int]:
    """(width, height) as displayed, after the rotation a phone recorded."""
    width, height = frame_size(frame)
    return (height, width) if _quarter_turns(frame) % 2 else (width, height)


def _quarter_turns(frame: Frame) -> int:
    """Counterclockwise quarter turns that make a PyAV frame upright (its display matrix)."""
    if not isinstance(frame, av.VideoFrame):
        return 0
    return round((frame.rotation or 0) / 90) % 4


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled so the shorter side is ``short_side``, aspect kept."""
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def analysis_view(
    frame: Frame, short_side: int, reformatter: VideoReformatter | None = None, *, tone_map: bool = True
) -> torch.Tensor:
    """An upright (3, h, w) uint8 RGB copy whose shorter side is ``short_side``.

    The filters, faces and CLIP all work at this size, so a candidate never needs a
    full-resolution RGB conversion unless it is finally picked. PyAV frames are scaled and
    converted by one swscale call (area filter) straight from YUV.

    Args:
        frame: the frame.
        short_side: the view's shorter side in pixels.
        reformatter: one per stream, to reuse swscale's context.
        tone_map: tone-map PQ and HLG frames to SDR (see ``hdr_transfer``), so HDR candidates
            are judged on the picture a viewer would see rather than a grey, flat one.

    Raises:
        DecodeError: the frame cannot be converted.
    """
    width, height = upright_size(frame)
    target_w, target_h = scaled_size(width, height, short_side)
    if isinstance(frame, av.VideoFrame):
        turns = _quarter_turns(frame)
        stored = (target_h, target_w) if turns % 2 else (target_w, target_h)
        transfer = hdr_transfer(frame) if tone_map else None
        if transfer is not None:
            # Scaled at 16 bits in the PQ/HLG domain first: tone-mapping the small view is cheap.
            return _upright(_tone_mapped(frame, transfer, stored, "AREA", reformatter), turns)
        rgb = _ffmpeg(frame, "rgb24", stored, "AREA", reformatter)
        if turns:
            rgb = np.rot90(rgb, k=turns)
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
    if isinstance(frame, np.ndarray):
        # INTER_AREA enlarges like nearest neighbour: blocky views of frames under 360p would
        # read as very sharp and flat (graphic). Bilinear then, as swscale and torch do.
        shrink = target_h < frame.shape[0]
        resized = cv2.resize(frame, (target_w, target_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)
    return _resize_tensor(frame, target_w, target_h)


def keep(frame: Frame) -> Frame:
    """A frame safe to hold after ``push`` returns: callers may reuse their array buffers."""
    if isinstance(frame, np.ndarray):
        return frame.copy()
    if isinstance(frame, torch.Tensor):
        return frame.clone()
    return frame  # PyAV frames own reference-counted buffers


def small_bgr(frame: Frame, width: int, height: int, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """A small BGR copy for the shot detector, made by the cheapest route for each frame type.

    Pass one ``VideoReformatter`` per stream: it caches FFmpeg's scaler context, which costs more
    to build than the conversion itself (4 ms per 720p frame without it).

    Raises:
        DecodeError: the frame's pixel format cannot be converted.
    """
    if isinstance(frame, av.VideoFrame):
        # HDR frames are not tone-mapped here: cuts show as well in the raw PQ/HLG signal, and
        # the shot detector runs on every frame, where the tone map would cost too much.
        small = _small_from_planes(frame, width, height)
        if small is not None:
            return small
        # Other formats: one swscale call scales and converts in C, without a full-size RGB
        # intermediate. FAST_BILINEAR: 0.6 ms a 720p frame against 1.5 ms for BILINEAR.
        return _ffmpeg(frame, "bgr24", (width, height), "FAST_BILINEAR", reformatter)
    if isinstance(frame, np.ndarray):
        resized = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.asarray(cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))
    rgb = _resize_tensor(frame, width, height).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(rgb[:, :, ::-1])


_PLANAR_420 = frozenset({"yuv420p", "yuvj420p"})
"""8-bit 4:2:0 planar formats (what nearly every H.264, HEVC, VP9 and AV1 stream decodes to)
whose planes ``_small_from_planes`` shrinks directly."""


def _small_from_planes(frame: av.VideoFrame, width: int, height: int) -> np.ndarray | None:
    """The shot detector's small BGR copy of an 8-bit 4:2:0 frame, or None for other formats.

    Shrinking the Y, U and V planes first and converting only the small picture costs about
    0.1 ms a 720p frame, against 0.7 ms for swscale's scale-and-convert: the shot detector sees
    every frame, so this was a tenth of the decode floor. The resize is PySceneDetect's own
    (cv2 ``INTER_LINEAR``) and the conversion OpenCV's BT.601 limited range, as its ``detect()``
    sees frames; full-range (JPEG) planes are brought to limited range first.
    """
    if frame.format.name not in _PLANAR_420 or width % 2 or height % 2:
        return None
    sizes = ((width, height), (width // 2, height // 2), (width // 2, height // 2))
    planes = [_plane(frame, i, size) for i, size in enumerate(sizes)]
    if frame.format.name == "yuvj420p" or frame.color_range == ColorRange.JPEG:
        luma, cb, cr = planes
        planes = [cv2.convertScaleAbs(luma, alpha=219 / 255, beta=16)]  # 0-255 to 16-235
        planes += [cv2.convertScaleAbs(c, alpha=224 / 255, beta=128 - 128 * 224 / 255) for c in (cb, cr)]
    i420 = np.concatenate([planes[0], planes[1].reshape(height // 4, width), planes[2].reshape(height // 4, width)])
    return np.asarray(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420))


def _plane(frame: av.VideoFrame, index: int, size: tuple[int, int]) -> np.ndarray:
    """Plane ``index`` of a planar 8-bit frame, resized to ``size`` (read in place, no copy)."""
    plane = frame.planes[index]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width]
    return np.asarray(cv2.resize(rows, size, interpolation=cv2.INTER_LINEAR))


def to_rgb(frame: Frame, *, tone_map: bool = True) -> torch.Tensor:
    """The upright full-resolution (3, H, W) uint8 tensor of a frame, on the frame's device.

    Args:
        frame: the frame.
        tone_map: tone-map PQ and HLG frames to SDR (see ``hdr_transfer``), so an HDR video's
            thumbnails look as the video does on an HDR screen, not grey and flat.

    Raises:
        DecodeError: the frame's pixel format cannot be converted.
    """
    if isinstance(frame, torch.Tensor):
        return frame
    if isinstance(frame, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)
    transfer = hdr_transfer(frame) if tone_map else None
    if transfer is not None:
        return _upright(_tone_mapped(frame, transfer), _quarter_turns(frame))
    rgb = _ffmpeg(frame, "rgb24")  # swscale handles 10-bit, 4:2:2, 4:4:4 and the rest
    turns = _quarter_turns(frame)
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    return torch.from_numpy(rgb).permute(2, 0, 1)


def hdr_transfer(frame: Frame) -> Transfer | None:
    """``"pq"`` (SMPTE ST 2084, HDR10) or ``"hlg"`` (ARIB STD-B67) for an HDR frame, else None.

    Read from the frame's colour metadata, which FFmpeg fills from the bitstream or, failing
    that, from the container. Arrays and tensors pushed by a caller are taken as SDR.
    """
    if not isinstance(frame, av.VideoFrame):
        return None
    return _HDR_TRANSFERS.get(frame.color_trc)


def _tone_mapped(
    frame: av.VideoFrame,
    transfer: Transfer,
    size: tuple[int, int] | None = None,
    interpolation: str | None = None,
    reformatter: VideoReformatter | None = None,
) -> torch.Tensor:
    """A stored-orientation (3, h, w) uint8 SDR picture of an HDR frame.

    swscale decodes YUV to 16-bit R'G'B' (no precision lost before the transfer functions);
    the matrix and range are given explicitly, because an HDR stream that leaves them
    unspecified is BT.2020 limited range, not swscale's BT.601 default.
    """
    matrix = Colorspace.ITU709 if frame.colorspace == Colorspace.ITU709 else Colorspace.BT2020
    full = frame.color_range == ColorRange.JPEG
    rgb48 = _ffmpeg(
        frame,
        "rgb48le",
        size,
        interpolation,
        reformatter,
        src_colorspace=matrix,
        src_color_range=ColorRange.JPEG if full else ColorRange.MPEG,
    )
    signal = torch.from_numpy(rgb48).permute(2, 0, 1)
    primaries = _HDR_PRIMARIES.get(frame.color_primaries, "bt2020")
    peak = _pq_source_peak(frame) if transfer == "pq" else None
    return hdr_to_sdr(signal, transfer, primaries=primaries, source_peak=peak)


def _upright(rgb: torch.Tensor, turns: int) -> torch.Tensor:
    """A (3, H, W) tensor turned counterclockwise ``turns`` quarter turns, as ``np.rot90`` does."""
    return torch.rot90(rgb, k=turns, dims=(1, 2)) if turns else rgb


def _pq_source_peak(frame: av.VideoFrame) -> float | None:
    """The brightest nits a PQ frame declares: the lower of MaxCLL and its mastering display's peak.

    The lower, because either is often a placeholder (10000, or the display when the content
    is dimmer). None when neither is there.
    """
    peaks = []
    cll = _side_data(frame, SideDataType.CONTENT_LIGHT_LEVEL)
    if len(cll) >= 4:
        peaks.append(float(struct.unpack_from("=I", cll)[0]))  # AVContentLightMetadata.MaxCLL
    mastering = _side_data(frame, SideDataType.MASTERING_DISPLAY_METADATA)
    if len(mastering) >= 88:
        # AVMasteringDisplayMetadata: 8 rationals of primaries and white, min and max
        # luminance (rationals at bytes 64 and 72), has_primaries, has_luminance.
        num, den = struct.unpack_from("=ii", mastering, 72)
        if struct.unpack_from("=i", mastering, 84)[0] and den > 0:
            peaks.append(num / den)
    peaks = [p for p in peaks if p > 0]
    return min(peaks) if peaks else None


def _side_data(frame: av.VideoFrame, kind: SideDataType) -> bytes:
    """A frame's side data of one kind as raw bytes; empty when it has none."""
    side_data = cast(SideDataContainer, frame.side_data)  # PyAV's stub says a TypedDict; it is not
    return bytes(side_data[kind]) if kind in side_data else b""


def _ffmpeg(
    frame: av.VideoFrame,
    fmt: str,
    size: tuple[int, int] | None = None,
    interpolation: str | None = None,
    reformatter: VideoReformatter | None = None,
    *,
    src_colorspace: Colorspace | None = None,
    src_color_range: ColorRange | None = None,
) -> np.ndarray:
    """Scale and convert with swscale in one call; conversion failures become ``DecodeError``."""
    width, height = size or (None, None)
    try:
        scaler = reformatter or VideoReformatter()
        out = scaler.reformat(
            frame,
            width=width,
            height=height,
            format=fmt,
            interpolation=interpolation,
            src_colorspace=src_colorspace,
            src_color_range=src_color_range,
        )
        return np.asarray(out.to_ndarray())
    except (av.FFmpegError, ValueError) as exc:
        raise DecodeError(f"cannot convert a {frame.format.name} frame to {fmt}: {exc}") from exc


def _resize_tensor(frame: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Antialiased resize of a (3, H, W) uint8 tensor, on its own device."""
    x = frame.unsqueeze(0).float()
    x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
    return x[0].round().clamp(0, 255).to(torch.uint8)
