"""Write picks as image files, atomically, and crop them to an aspect ratio if asked.

Each file is encoded in memory, written to a hidden temp file in the target folder and renamed
into place, so a crash or a full disk never leaves a half-written thumbnail behind. Files get
the mode a plain ``open()`` would give them under the current umask, so a web server running
as another user can serve them.

A folder holds the thumbnails of one video: writing a new result replaces the folder's earlier
thumbnails (files named like ours) once the new ones are in place, so a rerun with a smaller
``k`` never leaves stale ranks behind. ``video_folder`` names the per-video folder the CLI uses.

Example:
    >>> result = write_thumbnails(result, "thumbs/clip", OutputConfig(crop="16:9"))
    >>> result.picks[0].path
    'thumbs/clip/01_00012.400s.jpg'
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .config import OutputConfig
from .errors import OutputError
from .results import Result

__all__ = [
    "crop_to_ratio",
    "make_folder",
    "prepared_folder",
    "safe_stem",
    "thumbnail_name",
    "video_folder",
    "write_atomic",
    "write_thumbnails",
]

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
_OURS = re.compile(r"\d{2,}_\d{5,}\.\d{3}s\.(jpg|png|webp)")
"""Names ``thumbnail_name`` makes: the only files a new result may replace."""


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

    Thumbnails an earlier result left in ``out_dir`` (files named like ours, other files are
    never touched) are removed after the new ones are written.

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
    _remove_stale(folder, {Path(p.path).name for p in picks if p.path})
    return dataclasses.replace(result, picks=tuple(picks))


def safe_stem(path: str) -> str:
    """A file's stem reduced to characters every file system and URL takes, never empty."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("._-")[:40] or "video"


def video_folder(out_dir: str | os.PathLike[str], video: str | None) -> Path:
    """The folder of one video's thumbnails under ``out_dir``: ``out_dir/<video stem>``.

    One folder per video keeps two videos' thumbnails apart in one ``--out``.
    """
    return Path(out_dir) / safe_stem(video or "stream")


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create an output folder and its parents.

    Raises:
        OutputError: it cannot be created.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.filename} is a file, not a folder") from exc
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    return folder


@contextlib.contextmanager
def prepared_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Create ``path`` and prove it writable before the long work, not after it.

    If the body fails, the folders this call created are removed again, so a bad input
    leaves no empty output folder behind.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    folder = Path(path)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    make_folder(folder)
    try:
        write_atomic(folder / ".streamthumb-write-test", b"")
        (folder / ".streamthumb-write-test").unlink()
        yield folder
    except BaseException:
        for p in created:  # innermost first; a folder holding anything is kept
            with contextlib.suppress(OSError):
                p.rmdir()
        raise


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete thumbnails of an earlier result; another process may delete them too."""
    try:
        names = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError as exc:
        raise OutputError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    for name in names:
        if _OURS.fullmatch(name) and name not in keep:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()


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

    The temp file is opened with mode 0o666 and the umask applied by the kernel, like a plain
    ``open()``; ``tempfile.mkstemp`` would make every thumbnail 0600.

    Raises:
        OutputError: the folder is not writable or the disk is full.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OutputError(f"cannot write into {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
