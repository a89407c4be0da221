"""Who a video is, and what made its thumbnails: the keys a rerun compares before skipping work.

A video is known by its resolved path (``video_key``), its thumbnails live in a folder named by
``video_id``, and its content is recognised by ``file_stamp``. ``config_hash`` names what made
the thumbnails: every config field except those in ``OUTPUT_NEUTRAL``, plus streamthumb's
version and the weights' identity, so an upgrade or a checkpoint retrained in place redoes a
library while moving it to a GPU machine does not.

Example:
    >>> key = video_key("clips/a.mp4")
    >>> folder = out / video_id(key)
    >>> row_is_current = row.config_hash == config_hash(config)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamthumb

from .config import Config, ScoringConfig
from .urls import is_url

__all__ = [
    "FINGERPRINT_SPAN",
    "OUTPUT_NEUTRAL",
    "FileStamp",
    "config_hash",
    "file_stamp",
    "output_settings",
    "video_id",
    "video_key",
]

FINGERPRINT_SPAN = 1 << 20
"""Bytes hashed at each end of a file: enough to see a re-encode, cheap on network drives."""
OUTPUT_NEUTRAL = frozenset(
    {"runtime", "decode.threads", "decode.timeout", "scoring.cache_dir", "scoring.encoder_cache"}
)
"""Dotted config keys (a section name stands for all of it) that change speed or where files
live, never the picks: ``config_hash`` leaves them out. A field not listed counts, so a new
one forgotten here costs a redo, never a stale thumbnail."""
_LOCAL_DIR = "local-dir:"


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's content without decoding it."""

    size: int
    mtime: float
    """``st_mtime``; a changed mtime with an unchanged fingerprint is not a change."""
    fingerprint: str | None
    """Size plus a BLAKE2 hash of the first and last MiB; None when the file is unreadable."""


def file_stamp(path: str | os.PathLike[str]) -> FileStamp:
    """Size, mtime and a content fingerprint, reading at most two MiB.

    Raises:
        OSError: the file cannot be stat'ed. A file that can be stat'ed but not read gets
            ``fingerprint=None``, so its row still records the size the failure was seen at.
    """
    st = os.stat(path)
    try:
        with open(path, "rb") as fh:
            digest = hashlib.blake2b(digest_size=16)
            digest.update(fh.read(FINGERPRINT_SPAN))
            if st.st_size > FINGERPRINT_SPAN:
                fh.seek(max(FINGERPRINT_SPAN, st.st_size - FINGERPRINT_SPAN))
                digest.update(fh.read(FINGERPRINT_SPAN))
    except OSError:
        return FileStamp(size=st.st_size, mtime=st.st_mtime, fingerprint=None)
    return FileStamp(size=st.st_size, mtime=st.st_mtime, fingerprint=f"{st.st_size}-{digest.hexdigest()}")


def video_key(path: str) -> str:
    """The manifest key: the resolved path, except for a broken symlink, then the link itself,
    and a URL as it was given.

    A broken link's target is not what the user listed and may never exist; keyed by the
    target, the row and the video id would name a file nobody can find. Its folder is resolved.
    """
    if is_url(path):
        return path
    if os.path.islink(path) and not os.path.exists(path):
        parent, name = os.path.split(os.path.abspath(path))
        return os.path.join(os.path.realpath(parent), name)
    return os.path.realpath(path)


def video_id(path: str) -> str:
    """A folder name for a video: its sanitized stem, readable, plus a hash of the full path.

    The 64-bit hash of the resolved path is what keeps ids apart (``a/clip.mp4`` and
    ``b/clip.mp4``); the stem is only there so people can find a folder by eye.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("._-")[:40] or "video"
    return f"{stem}-{hashlib.sha256(os.fsencode(path)).hexdigest()[:16]}"


def config_hash(config: Config) -> str:
    """Hash of what makes the thumbnails: the settings that affect output, the code and the weights.

    Fields in ``OUTPUT_NEUTRAL`` (device, batch and queue sizes, decoder threads, the weights
    cache folder) are left out: moving a library to a GPU machine or the cache to another disk
    should not redo it. ``streamthumb.__version__`` is read at call time and included, since a
    new release may pick differently.
    """
    data = output_settings(config)
    data["streamthumb"] = streamthumb.__version__
    data["weights_files"] = weights_files(config.scoring)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def output_settings(config: Config) -> dict[str, Any]:
    """The config as a dict, less the ``OUTPUT_NEUTRAL`` keys: what decides the thumbnails."""
    data = config.to_dict()
    for dotted in OUTPUT_NEUTRAL:
        _drop(data, dotted)
    return data


def weights_files(scoring: ScoringConfig) -> list[tuple[str, int, float]]:
    """(path, size, mtime) of the local files the weights come from; none for a hub tag.

    The model and pretrained names are in the config already; a checkpoint file or a
    ``local-dir:`` folder can change under the same name, and its size and mtime see that
    without reading gigabytes.
    """
    paths: list[str] = []
    if scoring.model.startswith(_LOCAL_DIR):
        folder = scoring.model[len(_LOCAL_DIR) :]
        if os.path.isdir(folder):
            paths += sorted(os.path.join(folder, name) for name in os.listdir(folder))
    if scoring.pretrained and os.path.isfile(scoring.pretrained):
        paths.append(scoring.pretrained)
    return [_stamp(p) for p in paths if os.path.isfile(p)]


def _stamp(path: str) -> tuple[str, int, float]:
    st = os.stat(path)
    return path, st.st_size, st.st_mtime


def _drop(data: dict[str, Any], dotted: str) -> None:
    """Remove one dotted key; a key config no longer has is ignored (a test keeps the list honest)."""
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.get(part, {})
    node.pop(leaf, None)
