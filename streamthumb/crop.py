"""Place an aspect-ratio crop window on a pick: on its faces, else its most detailed region.

The largest window of the ratio that fits the frame spans the frame's full width or full
height, so placing it means choosing one offset along one axis (the free axis). The rules, in
order:

1. **Faces**: all of them when they fit in the window, else the largest one whole, choosing
   among its positions one that cuts through no other face when one exists, then the one that
   keeps the most face area. Faces sit centred sideways and a third of the way down.
2. **Detail**: no face, so the window goes where the gradient energy (edges, texture) inside
   it is highest, measured on a copy about 256 pixels on its longer side, when that beats the
   seed's window by ``DETAIL_GAIN``.
3. **Centre**: the seed's rule, centred sideways and starting 20 % down (the upper third).

Windows are in the pick's source pixels, (x, y, width, height) of the upright frame.

Example:
    >>> crops = place_crops(pick.image, [(16, 9), (9, 16)], pick.faces)
    >>> crops[0].box, crops[0].placed_by
    ((0, 212, 1080, 608), 'faces')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .results import Box, Crop

__all__ = ["DETAIL_GAIN", "detail_map", "detail_step", "place_crop", "place_crops", "seed_box", "window_size"]

Ratio = tuple[int, int]
"""An aspect ratio as (width units, height units), e.g. (16, 9)."""

DETAIL_GAIN = 1.10
"""The most detailed window must hold this much more gradient energy than the seed's window to
be chosen; below it the frame is evenly detailed (or flat) and the seed's rule is kept."""
_DETAIL_SIZE = 256
"""Longer side of the copy the detail is measured on: the energy profile needs no more."""
_FACE_LEVEL = (1 / 2, 1 / 3)
"""Where the faces' centre sits in the window: centred sideways, a third down vertically."""
_SEED_TOP = 0.20
"""The seed's vertical rule: a tall frame's crop starts 20 % down (faces sit high)."""


def window_size(width: int, height: int, ratio: Ratio) -> tuple[int, int]:
    """The largest (width, height) of ``ratio`` inside a ``width`` x ``height`` frame."""
    target = ratio[0] / ratio[1]
    if abs(width / height - target) < 1e-3:
        return width, height
    if width / height > target:
        return min(width, max(1, round(height * target))), height
    return width, min(height, max(1, round(width / target)))


def seed_box(width: int, height: int, ratio: Ratio) -> Box:
    """The seed's window: centred sideways, starting 20 % down (at most to the bottom)."""
    w, h = window_size(width, height, ratio)
    return (width - w) // 2, min(int(height * _SEED_TOP), height - h), w, h


def place_crop(image: np.ndarray, ratio: Ratio, faces: Sequence[Box] = (), *, detail: np.ndarray | None = None) -> Crop:
    """Place one ``ratio`` window on an (H, W, 3) frame; see the module docstring for the rules.

    Args:
        image: The upright RGB frame, full resolution.
        ratio: (width units, height units).
        faces: Face boxes in the frame's pixels.
        detail: ``detail_map(image)``, to reuse it across ratios; computed when needed.

    Returns:
        The window (``path`` unset) and what placed it.
    """
    height, width = image.shape[:2]
    seed = seed_box(width, height, ratio)
    axis = 0 if seed[2] < width else 1  # 0: the window slides sideways, 1: up and down
    length, size, start = (width, seed[2], seed[0]) if axis == 0 else (height, seed[3], seed[1])
    label = f"{ratio[0]}:{ratio[1]}"
    spans = _face_spans(faces, axis, length)
    if spans and size < length:
        return Crop(label, _box(seed, axis, _on_faces(spans, size, length, _FACE_LEVEL[axis])), "faces")
    if size < length:
        energy = detail if detail is not None else detail_map(image)
        offset = _on_detail(energy, detail_step(height, width), axis, size, length, start)
        if offset is not None:
            return Crop(label, _box(seed, axis, offset), "detail")
    return Crop(label, seed, "faces" if spans else "centre")


def place_crops(image: np.ndarray, ratios: Sequence[Ratio], faces: Sequence[Box] = ()) -> tuple[Crop, ...]:
    """``place_crop`` for each ratio, measuring the frame's detail at most once."""
    detail: np.ndarray | None = None
    crops = []
    for ratio in ratios:
        if detail is None and not faces:
            detail = detail_map(image)
        crops.append(place_crop(image, ratio, faces, detail=detail))
    return tuple(crops)


def detail_step(height: int, width: int) -> int:
    """Source pixels per side of one ``detail_map`` cell: the longer side shrinks to 256 or less."""
    return max(1, -(-max(height, width) // _DETAIL_SIZE))


def detail_map(image: np.ndarray) -> np.ndarray:
    """Gradient energy (|dx| + |dy| of the grey image) on a copy at most 256 px on its longer side.

    Returns:
        A float32 (h, w) map, one cell per ``detail_step`` x ``detail_step`` source pixels.
    """
    step = detail_step(*image.shape[:2])
    h, w = image.shape[0] // step, image.shape[1] // step
    # Block sums, rows first, then each block's columns and channels: an exact box filter that
    # reads the frame once (a float copy of a 4K frame costs 30 times more).
    rows = image[: h * step, : w * step].reshape(h, step, w * step * 3).sum(axis=1, dtype=np.uint32)
    small = rows.reshape(h, w, step * 3).sum(axis=2).astype(np.float32) / (step * step * 3)
    energy = np.zeros_like(small)
    energy[:, 1:] += np.abs(np.diff(small, axis=1))
    energy[1:, :] += np.abs(np.diff(small, axis=0))
    return energy


def _face_spans(faces: Sequence[Box], axis: int, length: int) -> list[tuple[int, int, int]]:
    """Each face as (start, end, area) along the free axis, clipped to the frame; empty ones dropped."""
    spans = []
    for box in faces:
        lo, hi = max(0, box[axis]), min(length, box[axis] + box[axis + 2])
        if hi > lo and box[2] > 0 and box[3] > 0:
            spans.append((lo, hi, box[2] * box[3]))
    return spans


def _on_faces(spans: list[tuple[int, int, int]], size: int, length: int, level: float) -> int:
    """The window's offset: all faces inside if they fit, else the largest whole, cutting none if it can."""
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    if last - first <= size:
        return _clamp(round((first + last) / 2 - level * size), max(0, last - size), min(length - size, first))
    lo_face, hi_face, _ = max(spans, key=lambda s: s[2])
    want = round((lo_face + hi_face) / 2 - level * size)
    lo, hi = max(0, hi_face - size), min(length - size, lo_face)
    if lo > hi:  # the largest face alone is wider than the window: centre on it
        return _clamp(round((lo_face + hi_face - size) / 2), 0, length - size)
    edges = {want, lo, hi}
    for a, b, _ in spans:  # the set of faces kept and cut changes only where an edge meets a face's edge
        edges.update((a, b, a - size, b - size))
    offsets = {_clamp(x, lo, hi) for x in edges}
    return min(offsets, key=lambda x: (*_cuts_and_kept(spans, x, size), abs(x - want)))


def _cuts_and_kept(spans: list[tuple[int, int, int]], offset: int, size: int) -> tuple[int, int]:
    """How many faces the window at ``offset`` cuts through, and minus the face area it keeps whole."""
    cuts = kept = 0
    for a, b, area in spans:
        if offset <= a and b <= offset + size:
            kept += area
        elif a < offset + size and offset < b:
            cuts += 1
    return cuts, -kept


def _on_detail(energy: np.ndarray, step: int, axis: int, size: int, length: int, seed_start: int) -> int | None:
    """The offset whose window holds the most gradient energy, or None if it hardly beats the seed's."""
    profile = energy.sum(axis=axis, dtype=np.float64)  # x slides: sum each column; y slides: each row
    k = min(len(profile), max(1, round(size / step)))
    summed = np.concatenate(([0.0], np.cumsum(profile)))  # a 1-D integral image: each window in O(1)
    windows = summed[k:] - summed[:-k]
    seed = windows[min(len(windows) - 1, round(seed_start / step))]
    best = int(np.argmax(windows))
    if windows[best] <= DETAIL_GAIN * seed:
        return None
    return _clamp(round((best + k / 2) * step - size / 2), 0, length - size)


def _box(seed: Box, axis: int, offset: int) -> Box:
    """The seed's window moved to ``offset`` along the free axis."""
    x, y, w, h = seed
    return (offset, y, w, h) if axis == 0 else (x, offset, w, h)


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))
