"""The exceptions streamthumb raises, one tree so callers can catch as broadly as they need.

    StreamthumbError
    ├── InputError                 the video cannot be used
    │   ├── VideoOpenError         missing, unreadable, or not a media file
    │   ├── NoVideoStreamError     a media file without a video stream (audio-only)
    │   ├── EmptyVideoError        a video stream that decodes to zero frames
    │   ├── DecodeError            decoding failed beyond what skipping packets can fix
    │   └── FrameError             a pushed frame or time the picker cannot take
    ├── ConfigError                an unknown key or a bad value in the configuration
    ├── ModelError                 the scoring model cannot be built or run
    │   └── WeightsUnavailableError   its weights are neither cached nor reachable
    ├── OutputError                thumbnails cannot be written
    └── Cancelled                  the caller's cancel token stopped the run

Every message says what failed, for which input, and how to fix it, because the CLI prints
exactly that one line and nothing else.
"""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "ConfigError",
    "DecodeError",
    "EmptyVideoError",
    "FrameError",
    "InputError",
    "ModelError",
    "NoVideoStreamError",
    "OutputError",
    "StreamthumbError",
    "VideoOpenError",
    "WeightsUnavailableError",
]


class StreamthumbError(Exception):
    """Base class of every error streamthumb raises on purpose."""


class InputError(StreamthumbError):
    """The input video cannot be used."""


class VideoOpenError(InputError):
    """The path is missing, unreadable, a directory, or not a media file FFmpeg understands."""


class NoVideoStreamError(InputError):
    """The file is media but has no video stream, e.g. an audio-only file."""


class EmptyVideoError(InputError):
    """The video stream yields no decodable frame."""


class DecodeError(InputError):
    """Decoding failed in a way that skipping corrupt packets cannot recover from."""


class FrameError(InputError):
    """``Picker.push`` got something that is not a frame it takes, or a time that is not a time."""


class ConfigError(StreamthumbError):
    """A configuration file or override has an unknown key or an invalid value."""


class ModelError(StreamthumbError):
    """The scoring model cannot be created or run."""


class WeightsUnavailableError(ModelError):
    """The model's pretrained weights are not cached locally and cannot be fetched."""


class OutputError(StreamthumbError):
    """Thumbnails cannot be written to the output location."""


class Cancelled(StreamthumbError):
    """The run was stopped through its ``CancelToken``; nothing was written."""
