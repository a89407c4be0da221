"""streamthumb: pick the best thumbnails of a video in one streaming decode pass.

Example:
    >>> import streamthumb
    >>> result = streamthumb.pick("clip.mp4", k=3)
    >>> result = streamthumb.write_thumbnails(result, "thumbs/")
    >>> [(p.rank, p.t, p.path) for p in result.picks]
"""

from __future__ import annotations

from .batch import BatchSummary, run_batch
from .config import Config
from .errors import (
    ConfigError,
    DecodeError,
    EmptyVideoError,
    InputError,
    ModelError,
    NoVideoStreamError,
    OutputError,
    StreamthumbError,
    VideoOpenError,
    WeightsUnavailableError,
)
from .faces import FaceDetector
from .output import write_thumbnails
from .picker import Picker, pick
from .results import Pick, Result, Shot, Stats
from .scoring import ClipScorer, Scorer, load_scorer
from .shots import ShotDetector

__version__ = "0.1.0"

__all__ = [
    "BatchSummary",
    "ClipScorer",
    "Config",
    "ConfigError",
    "DecodeError",
    "EmptyVideoError",
    "FaceDetector",
    "InputError",
    "ModelError",
    "NoVideoStreamError",
    "OutputError",
    "Pick",
    "Picker",
    "Result",
    "Scorer",
    "Shot",
    "ShotDetector",
    "Stats",
    "StreamthumbError",
    "VideoOpenError",
    "WeightsUnavailableError",
    "__version__",
    "load_scorer",
    "pick",
    "run_batch",
    "write_thumbnails",
]
