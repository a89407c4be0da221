"""Where a video's bytes come from: a file, a URL FFmpeg can open, or a stream such as a pipe.

Every source ends as one PyAV input container, so the decoder does not care which it was.
Files get checked before FFmpeg sees them (missing, a folder, unreadable, empty), so their
errors say what is wrong in plain words. URLs (``http``, ``https``, HLS ``.m3u8``, ``rtmp``,
``srt`` and whatever else this FFmpeg was built with) are opened with a connect and read
timeout, so an unreachable or stalled server ends the run in seconds with one line. File-like
objects (``sys.stdin.buffer``, a socket's file, an upload) are read as they come; a pipe cannot
seek, so formats that keep their index at the end (MP4 without ``+faststart``) need to be
remuxed or sent as MPEG-TS or Matroska, and the error says so.

Example:
    >>> container = open_source("https://example.com/clip.m3u8", timeout=10)
    >>> source_name(sys.stdin.buffer)
    '<stdin>'
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Union

import av

from . import urls
from .errors import VideoOpenError

__all__ = ["PIPE_HINT", "RANGE_HINT", "Source", "is_stream", "is_url", "open_source", "source_name", "unreadable_hint"]

Source = Union[str, "os.PathLike[str]", IO[bytes], io.RawIOBase, io.BufferedIOBase]
"""A path, a URL, or a binary file-like object open for reading."""

RANGE_HINT = (
    "an MP4 with its index at the end needs a server that answers Range requests; or remux it with -movflags +faststart"
)
PIPE_HINT = (
    "a stream that cannot seek needs a format readable front to back: remux MP4 with "
    "-movflags +faststart, or send -f mpegts or -f matroska"
)


def is_url(source: Source) -> bool:
    """Whether ``source`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(source, str) and urls.is_url(source)


def is_stream(source: Source) -> bool:
    """Whether ``source`` is a file-like object (a pipe, a socket) rather than a path or URL."""
    return not isinstance(source, (str, os.PathLike))


def unreadable_hint(source: Source, format_name: str) -> str | None:
    """Why a source that opened may still give no frame, when its kind explains it: an MP4
    (or MOV) keeps its index at the end, out of reach of a pipe or a server without ranges."""
    if "mp4" not in format_name and "mov" not in format_name:
        return None
    if is_stream(source):
        return PIPE_HINT
    return RANGE_HINT if is_url(source) else None


def source_name(source: Source) -> str:
    """How results and messages name the source: the path or URL as given, or the stream's name."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else "<stream>"


def open_source(source: Source, *, timeout: float = 30.0) -> av.container.InputContainer:
    """Open any source as a PyAV input container.

    Args:
        source: A path, a URL, or a readable binary file-like object.
        timeout: Seconds a URL may take to connect, and then to send more data.

    Raises:
        VideoOpenError: the source is missing, unreadable, unreachable, or not media.
    """
    if not isinstance(source, (str, os.PathLike)):
        return _open_stream(source)
    path = os.fspath(source)
    if is_url(path):
        return _open_url(path, timeout)
    return _open_file(path)


def _open_file(path: str) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VideoOpenError(f"{path}: no such file")
    if p.is_dir():
        raise VideoOpenError(f"{path}: is a directory, not a video file")
    if not os.access(p, os.R_OK):
        raise VideoOpenError(f"{path}: permission denied")
    if p.stat().st_size == 0:
        raise VideoOpenError(f"{path}: file is empty (0 bytes)")
    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        hint = "is it truncated, corrupt or not a video?"
        raise VideoOpenError(f"{path}: cannot be read as video ({_reason(exc)}); {hint}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise VideoOpenError(f"{path}: cannot open ({exc})") from exc


def _open_url(url: str, timeout: float) -> av.container.InputContainer:
    try:
        # PyAV's timeout interrupts FFmpeg's blocking I/O: (connect, each read) in seconds.
        return av.open(url, mode="r", metadata_errors="ignore", timeout=(timeout, timeout))
    except av.ProtocolNotFoundError:
        return _open_fsspec(url)
    except av.ExitError as exc:  # the interrupt fired
        raise VideoOpenError(f"{url}: no answer within {timeout:g} s (decode.timeout)") from exc
    except av.FFmpegError as exc:
        raise VideoOpenError(f"{url}: cannot open ({_reason(exc)}); is the URL right and the server up?") from exc
    except OSError as exc:
        raise VideoOpenError(f"{url}: cannot open ({exc})") from exc


def _open_fsspec(url: str) -> av.container.InputContainer:
    """A URL FFmpeg has no protocol for (``s3://``, ``gs://``, ``az://``...), read through fsspec.

    FFmpeg's own protocols (http, https, rtmp, srt...) go to FFmpeg; object stores, which a
    cluster's nodes share, need fsspec and the store's package (s3fs, gcsfs, adlfs).
    """
    import fsspec

    scheme = url.split("://", 1)[0]
    try:
        handle = fsspec.open(url, "rb").open()
    except ImportError as exc:  # fsspec knows the store; its package is not installed
        raise VideoOpenError(f"{url}: reading {scheme}:// needs fsspec's package for it ({exc})") from exc
    except ValueError as exc:
        raise VideoOpenError(f"{url}: neither FFmpeg nor fsspec can read {scheme}:// URLs") from exc
    except FileNotFoundError as exc:
        raise VideoOpenError(f"{url}: no such object") from exc
    except OSError as exc:
        raise VideoOpenError(f"{url}: cannot open ({exc})") from exc
    return _open_stream(handle, url)  # the container holds the handle; it closes when collected


def _open_stream(
    stream: IO[bytes] | io.RawIOBase | io.BufferedIOBase, name: str | None = None
) -> av.container.InputContainer:
    name = name or source_name(stream)
    if not callable(getattr(stream, "read", None)):
        raise VideoOpenError(f"{name}: not a readable binary file-like object ({type(stream).__name__})")
    try:
        return av.open(stream, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoOpenError(f"{name}: cannot be read as video ({_reason(exc)}); {PIPE_HINT}") from exc
    except (OSError, ValueError) as exc:
        raise VideoOpenError(f"{name}: cannot read ({exc})") from exc


def _reason(exc: av.FFmpegError) -> str:
    return exc.strerror or str(exc)
