"""Write picks as image files, atomically, and crop them to an aspect ratio if asked.

Each file is encoded in memory, written to a hidden temp file in the target folder and renamed
into place, so a crash or a full disk never leaves a half-written thumbnail behind.

Example:
    >>> result = write_thumbnails(result, "thumbs/", OutputConfig(crop="16:9"))
    >>> result.picks[0].path
    'thumbs/01_00012.400s.jpg'
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .config import OutputConfig
from .errors import OutputError
from .results import Result

__all__ = ["crop_to_ratio", "make_folder", "thumbnail_name", "write_atomic", "write_thumbnails"]

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}


def crop_to_ratio(image: np.ndarray, ratio: tuple[int, int]) -> np.ndarray:
    """Crop (H, W, 3) to ``ratio`` (width, height): centred sideways, upper third vertically.

    Faces in vertical video sit high in the frame, so cutting a tall frame down keeps the top
    third rather than the centre, as the seed recipe does.
    """
    height, width = image.shape[:2]
    target = ratio[0] / ratio[1]
    if abs(width / height - target) < 1e-3:
        return image
    if width / height > target:
        new_w = max(1, round(height * target))
        x0 = (width - new_w) // 2
        return image[:, x0 : x0 + new_w]
    new_h = max(1, round(width / target))
    y0 = min(int(height * 0.20), height - new_h)
    return image[y0 : y0 + new_h, :]


def thumbnail_name(rank: int, t: float, fmt: str) -> str:
    """File name carrying rank and timestamp, e.g. ``01_00012.400s.jpg``; sorts by rank."""
    return f"{rank:02d}_{t:09.3f}s{_EXTENSIONS[fmt]}"


def write_thumbnails(result: Result, out_dir: str | os.PathLike[str], cfg: OutputConfig | None = None) -> Result:
    """Write every pick of ``result`` into ``out_dir``; return the result with paths filled in.

    Raises:
        OutputError: the folder cannot be created or a file cannot be encoded or written.
    """
    cfg = cfg or OutputConfig()
    folder = make_folder(out_dir)
    picks = []
    for p in result.picks:
        image = p.image if cfg.crop_ratio is None else crop_to_ratio(p.image, cfg.crop_ratio)
        path = folder / thumbnail_name(p.rank, p.t, cfg.format)
        write_atomic(path, _encode(image, cfg))
        picks.append(dataclasses.replace(p, path=str(path)))
    return dataclasses.replace(result, picks=tuple(picks))


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create an output folder and its parents.

    Raises:
        OutputError: it cannot be created.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    return folder


def _encode(image: np.ndarray, cfg: OutputConfig) -> bytes:
    params = {
        "jpeg": [cv2.IMWRITE_JPEG_QUALITY, cfg.quality],
        "webp": [cv2.IMWRITE_WEBP_QUALITY, cfg.quality],
        "png": [cv2.IMWRITE_PNG_COMPRESSION, 3],
    }[cfg.format]
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(_EXTENSIONS[cfg.format], bgr, params)
    if not ok:
        raise OutputError(f"OpenCV could not encode a {image.shape[1]}x{image.shape[0]} image as {cfg.format}")
    return buf.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, then rename it into place.

    Raises:
        OutputError: the folder is not writable or the disk is full.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write into {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
