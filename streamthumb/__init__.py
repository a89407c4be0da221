"""streamthumb: pick the best thumbnails of a video in one streaming decode pass.

Example:
    >>> import streamthumb
    >>> result = streamthumb.pick("clip.mp4", k=3)
    >>> result = streamthumb.write_thumbnails(result, "thumbs/clip")
    >>> [(p.rank, p.t, p.path) for p in result.picks]

Names are imported on first use (PEP 562), so ``import streamthumb`` and the CLI's ``--help``
do not pay for torch and open_clip until a model or a frame is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Crop": "results",
    "Face": "faces",
    "Cancelled": "errors",
    "CancelToken": "events",
    "Event": "events",
    "InferenceEngine": "engine",
    "CandidateInfo": "results",
    "Verdict": "results",
    "Filter": "filters",
    "BatchSummary": "batch",
    "run_batch": "batch",
    "Config": "config",
    "ConfigError": "errors",
    "DecodeError": "errors",
    "EmptyVideoError": "errors",
    "FrameError": "errors",
    "InputError": "errors",
    "ModelError": "errors",
    "NoVideoStreamError": "errors",
    "OutputError": "errors",
    "StreamthumbError": "errors",
    "VideoOpenError": "errors",
    "WeightsUnavailableError": "errors",
    "FaceDetector": "faces",
    "write_thumbnails": "output",
    "Picker": "picker",
    "pick": "picker",
    "Pick": "results",
    "Result": "results",
    "Shot": "results",
    "Stats": "results",
    "ClipScorer": "scoring",
    "Scorer": "scoring",
    "load_scorer": "scoring",
    "ShotDetector": "shots",
}
"""Public name -> the module that defines it."""

__all__ = [
    "BatchSummary",
    "CancelToken",
    "Cancelled",
    "CandidateInfo",
    "ClipScorer",
    "Config",
    "ConfigError",
    "Crop",
    "DecodeError",
    "EmptyVideoError",
    "Event",
    "Face",
    "FaceDetector",
    "Filter",
    "FrameError",
    "InferenceEngine",
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
    "Verdict",
    "VideoOpenError",
    "WeightsUnavailableError",
    "load_scorer",
    "pick",
    "run_batch",
    "write_thumbnails",
    "__version__",
]

if TYPE_CHECKING:
    from .batch import BatchSummary, run_batch
    from .config import Config
    from .engine import InferenceEngine
    from .errors import (
        Cancelled,
        ConfigError,
        DecodeError,
        EmptyVideoError,
        FrameError,
        InputError,
        ModelError,
        NoVideoStreamError,
        OutputError,
        StreamthumbError,
        VideoOpenError,
        WeightsUnavailableError,
    )
    from .events import CancelToken, Event
    from .faces import Face, FaceDetector
    from .filters import Filter
    from .output import write_thumbnails
    from .picker import Picker, pick
    from .results import CandidateInfo, Crop, Pick, Result, Shot, Stats, Verdict
    from .scoring import ClipScorer, Scorer, load_scorer
    from .shots import ShotDetector


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamthumb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
