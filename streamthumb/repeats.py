"""Picks repeated across a library: shared intros, channel bumpers, the same title card.

Within one video the selector already refuses near-duplicate picks. Across a library the same
picture can still win in many videos, when they all open with one bumper or show one end
card. ``RepeatIndex`` keeps the picks' embeddings of every video done so far (the scorer's,
so CLIP's or the model-free colour histogram) and says, for each new video, which of its
picks are at least ``threshold`` alike (cosine similarity) to another video's pick. It needs
no second pass over the videos: the embeddings come with each video's outcome and are kept
in the manifest, so a later run compares against what earlier runs did.

Example:
    >>> index = RepeatIndex(threshold=0.97)
    >>> index.add("/v/a.mp4", a_embeddings)               # (K, D) unit-norm rows, rank order
    >>> index.match("/v/b.mp4", b_embeddings)
    [Repeat(rank=1, video='/v/a.mp4', other_rank=2, similarity=0.991)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .library import Manifest, VideoRecord

__all__ = ["Repeat", "RepeatIndex", "record_with_repeats"]


@dataclass(frozen=True)
class Repeat:
    """One pick of a video that another video's pick repeats."""

    rank: int
    """The pick of this video (1 is the best)."""
    video: str
    """The other video's manifest key."""
    other_rank: int
    """The other video's pick it repeats."""
    similarity: float
    """Cosine similarity of the two picks' embeddings."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as kept in the manifest's ``repeats`` column."""
        return {
            "rank": self.rank,
            "video": self.video,
            "other_rank": self.other_rank,
            "similarity": round(self.similarity, 4),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Repeat:
        return cls(int(data["rank"]), str(data["video"]), int(data["other_rank"]), float(data["similarity"]))

    def mirrored(self, video: str) -> Repeat:
        """The same pair seen from the other video, where ``video`` is this one's key."""
        return Repeat(self.other_rank, video, self.rank, self.similarity)


class RepeatIndex:
    """The picks' embeddings of the videos done so far, searched by brute force.

    One (K, D) x (D, M) product per new video against every pick held. Rows live in one
    growing float32 buffer (about 6 KB per video of three ViT-B-32 picks, so 600 MB for
    100,000 videos), and a redone video's old rows are only marked dead, so adding stays
    cheap however large the library.

    Args:
        threshold: Cosine similarity at or above which two picks are the same picture; the
            selector's ``select.max_similarity``, so "duplicate" means one thing everywhere.
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._buffer = np.zeros((0, 0), np.float32)
        self._used = 0
        self._alive = np.zeros(0, bool)
        self._owners: list[tuple[str, int]] = []
        self._rows: dict[str, list[int]] = {}

    def __len__(self) -> int:
        """Videos held."""
        return len(self._rows)

    def add(self, video: str, embeddings: np.ndarray) -> None:
        """Hold a video's picks (rows in rank order), replacing what it had.

        Raises:
            ValueError: the embeddings are not (K, D) with the D of those held (another model).
        """
        rows = _unit(np.asarray(embeddings, dtype=np.float32))
        if rows.ndim != 2 or (self._used and rows.shape[1] != self._buffer.shape[1]):
            raise ValueError(f"RepeatIndex holds (K, {self._buffer.shape[1]}) embeddings, got {rows.shape}")
        self.remove(video)
        self._grow(len(rows), rows.shape[1])
        first = self._used
        self._buffer[first : first + len(rows)] = rows
        self._alive[first : first + len(rows)] = True
        self._owners += [(video, rank) for rank in range(1, len(rows) + 1)]
        self._rows[video] = list(range(first, first + len(rows)))
        self._used += len(rows)

    def remove(self, video: str) -> None:
        """Forget a video, such as one being redone or one that now failed."""
        for row in self._rows.pop(video, ()):
            self._alive[row] = False

    def match(self, video: str, embeddings: np.ndarray) -> list[Repeat]:
        """This video's picks that another held video's pick repeats, best first per pick."""
        query = _unit(np.asarray(embeddings, dtype=np.float32))
        if not self._used or query.ndim != 2 or query.shape[1] != self._buffer.shape[1]:
            return []
        sims = query @ self._buffer[: self._used].T  # (K, M)
        hits = (sims >= self.threshold) & self._alive[: self._used]
        found = []
        for rank, row in zip(*np.nonzero(hits), strict=True):
            other, other_rank = self._owners[row]
            if other != video:
                found.append(Repeat(int(rank) + 1, other, other_rank, float(sims[rank, row])))
        return sorted(found, key=lambda r: (r.rank, -r.similarity, r.video, r.other_rank))

    def _grow(self, extra: int, dim: int) -> None:
        """Room for ``extra`` more rows, doubling the buffer so adds cost O(1) on average."""
        if self._used + extra <= len(self._buffer):
            return
        size = max(64, 2 * len(self._buffer), self._used + extra)
        buffer, alive = np.zeros((size, dim), np.float32), np.zeros(size, bool)
        if self._used:
            buffer[: self._used], alive[: self._used] = self._buffer[: self._used], self._alive[: self._used]
        self._buffer, self._alive = buffer, alive


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so a product is a cosine whatever a scorer hands over."""
    if x.ndim != 2:
        return x
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def record_with_repeats(
    manifest: Manifest, rec: VideoRecord, embeddings: np.ndarray | None, index: RepeatIndex | None
) -> list[Repeat]:
    """Commit a finished video's row and keep every row's ``repeats`` true, in one transaction.

    With an index (``--flag-repeats``), a done video's picks are matched against every video
    held, the pairs are written on both rows, and its embeddings are kept for later runs.
    Always, the links its previous row had are taken off the other rows, and embeddings of
    picks it no longer has are dropped, so a redone video never leaves stale repeats behind.

    Returns:
        The repeats found for this video (empty without an index).
    """
    old = manifest.get(rec.path)
    stale = {r["video"] for r in old.repeats} if old is not None else set()
    kept = embeddings if index is not None and rec.status == "done" else None
    if index is not None:
        index.remove(rec.path)
    found = index.match(rec.path, kept) if index is not None and kept is not None else []
    with manifest.transaction():
        manifest.record(dataclasses.replace(rec, repeats=tuple(r.to_dict() for r in found)))
        manifest.store_embeddings(rec.path, kept)
        for other in sorted(stale | {r.video for r in found}):
            _relink(manifest, other, rec.path, [r.mirrored(rec.path) for r in found if r.video == other])
    if index is not None and kept is not None:
        index.add(rec.path, kept)
    return found


def _relink(manifest: Manifest, other: str, video: str, mirrored: list[Repeat]) -> None:
    """Replace ``other``'s repeats of ``video`` with ``mirrored``."""
    row = manifest.get(other)
    if row is None:
        return
    kept = [r for r in row.repeats if r["video"] != video] + [r.to_dict() for r in mirrored]
    manifest.set_repeats(other, sorted(kept, key=lambda r: (r["rank"], -r["similarity"], r["video"])))
