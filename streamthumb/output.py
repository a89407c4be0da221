"""Write picks as image files, atomically, cropped to each aspect ratio asked.

Each file is encoded in memory, written to a hidden temp file in the target folder and renamed
into place, so a crash or a full disk never leaves a half-written thumbnail behind. Files get
the mode a plain ``open()`` would give them under the current umask, so a web server running
as another user can serve them.

A folder holds the thumbnails of one video: writing a new result replaces the folder's earlier
thumbnails (files named like ours) once the new ones are in place, so a rerun with a smaller
``k`` never leaves stale ranks behind. ``video_folder`` names the per-video folder the CLI uses.

With ``output.crop`` each pick is written once per ratio, placed by ``streamthumb.crop`` (on
the faces, else the most detailed region, else the seed's rule) and named by the ratio; the
whole frame is written only when no crop is asked.

Example:
    >>> result = write_thumbnails(result, "thumbs/clip", OutputConfig(crop=("16:9", "9:16")))
    >>> [c.path for c in result.picks[0].crops]
    ['thumbs/clip/01_00012.400s_16x9.jpg', 'thumbs/clip/01_00012.400s_9x16.jpg']
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .config import OutputConfig
from .crop import place_crops
from .errors import OutputError
from .results import Pick, Result
from .sources import is_url

__all__ = [
    "claim_folder",
    "make_folder",
    "prepared_folder",
    "safe_stem",
    "thumbnail_name",
    "video_folder",
    "write_atomic",
    "write_thumbnails",
]

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
_OWNER = ".streamthumb-source"
"""The file naming the video a folder's thumbnails are of."""
_OURS = re.compile(r"\d{2,}_\d{5,}\.\d{3}s(_\d+x\d+)?\.(jpg|png|webp)")
"""Names ``thumbnail_name`` makes: the only files a new result may replace."""


def thumbnail_name(rank: int, t: float, fmt: str, ratio: tuple[int, int] | None = None) -> str:
    """File name carrying rank, timestamp and crop ratio, e.g. ``01_00012.400s_16x9.jpg``; sorts by rank."""
    suffix = "" if ratio is None else f"_{ratio[0]}x{ratio[1]}"
    return f"{rank:02d}_{t:09.3f}s{suffix}{_EXTENSIONS[fmt]}"


def write_thumbnails(result: Result, out_dir: str | os.PathLike[str], cfg: OutputConfig | None = None) -> Result:
    """Write every pick of ``result`` into ``out_dir``; return the result with paths filled in.

    Without ``cfg.crop`` each pick's whole frame is written and ``Pick.path`` names it. With
    it, each pick is written once per ratio (and not whole): ``Pick.crops`` gives each crop's
    window, how it was placed and its file, and ``Pick.path`` names the first ratio's file.
    Thumbnails an earlier result left in ``out_dir`` (files named like ours, other files are
    never touched) are removed after the new ones are written.

    Raises:
        OutputError: the folder cannot be created or a file cannot be encoded or written.
    """
    cfg = cfg or OutputConfig()
    folder = make_folder(out_dir)
    picks = [_write_pick(p, folder, cfg) for p in result.picks]
    written = {Path(path).name for p in picks for path in (p.path, *(c.path for c in p.crops)) if path}
    _remove_stale(folder, written)
    return dataclasses.replace(result, picks=tuple(picks))


def _write_pick(pick: Pick, folder: Path, cfg: OutputConfig) -> Pick:
    """Write one pick, whole or once per crop ratio; return it with its paths."""
    if not cfg.crop_ratios:
        path = folder / thumbnail_name(pick.rank, pick.t, cfg.format)
        write_atomic(path, _encode(pick.image, cfg))
        return dataclasses.replace(pick, path=str(path), crops=())
    crops = []
    for ratio, crop in zip(cfg.crop_ratios, place_crops(pick.image, cfg.crop_ratios, pick.faces), strict=True):
        x, y, w, h = crop.box
        path = folder / thumbnail_name(pick.rank, pick.t, cfg.format, ratio)
        write_atomic(path, _encode(pick.image[y : y + h, x : x + w], cfg))
        crops.append(dataclasses.replace(crop, path=str(path)))
    return dataclasses.replace(pick, path=crops[0].path, crops=tuple(crops))


def safe_stem(path: str) -> str:
    """A file's stem reduced to characters every file system and URL takes, never empty."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("._-")[:40] or "video"


def video_folder(out_dir: str | os.PathLike[str], video: str | None) -> Path:
    """The folder of one video's thumbnails under ``out_dir``: ``out_dir/<video stem>``.

    One folder per video keeps two videos' thumbnails apart in one ``--out``. When that folder
    already belongs to another video (same stem from another directory, or a name the stem
    shortens alike), a short hash of the video's path is added, so a run never replaces
    another video's thumbnails. ``claim_folder`` marks whose a folder is.
    """
    stem, source = safe_stem(video or "stream"), _source(video)
    folder = Path(out_dir) / stem
    owner = _owner(folder)
    if owner is None or owner == source:
        return folder
    return Path(out_dir) / f"{stem}-{hashlib.sha256(os.fsencode(source)).hexdigest()[:8]}"


def claim_folder(folder: Path, video: str | None) -> None:
    """Record in ``folder`` which video its thumbnails are of, for ``video_folder``.

    Raises:
        OutputError: the marker cannot be written.
    """
    write_atomic(folder / _OWNER, _source(video).encode("utf-8", "surrogateescape"))


def _source(video: str | None) -> str:
    """Who owns a folder: a file by its resolved path; a URL, or a stream's name (``<stdin>``), as given."""
    if not video:
        return "stream"
    return video if is_url(video) or video.startswith("<") else os.path.realpath(video)


def _owner(folder: Path) -> str | None:
    try:
        return (folder / _OWNER).read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None


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
