"""Find the picture inside black bars: letterboxed films, 4:3 archive and vertical phone video
shown in a 16:9 frame.

Bars hurt every later stage: they lower a frame's mean luma and contrast, count as flat area
for the graphic filter, dilute the Laplacian variance, meet the picture in a hard straight edge,
and end up in the thumbnail. FFmpeg's ``cropdetect`` finds them by scanning lines in from each
edge; this does the same on a candidate's analysis view, where it costs a few reductions. Bars
count only in pairs (top and bottom, or left and right), each at least ``min_border`` of the
side, and never when less than ``_MIN_PICTURE`` of the frame would remain (a black frame is the
exposure filter's business), so a dark sky along one edge is not mistaken for a letterbox;
and the picture must be lit over most of its area, so text on black (slates, credits) is not
taken for a picture in bars and judged without its black.

Example:
    >>> find_picture(view, CandidatesConfig())      # a 2.39:1 film in a 640x360 view
    (0, 47, 640, 266)
"""

from __future__ import annotations

import torch

from .config import CandidatesConfig
from .results import Box

__all__ = ["find_picture", "to_frame"]

_HOT_PIXELS = 0.005
"""Share of a line's pixels that may be brighter than ``border_luma`` and still be bar:
compression ringing and the odd hot pixel, not a subtitle or a star field."""
_SEAM = 3
"""Up to this many sparse lines beside a bar (compression ringing) are bar too."""
_SEAM_LIT = 0.25
"""A line lit over less than this share is sparse."""
_PICTURE_LIT = 0.5
"""The picture inside bars is lit over at least this share on average: a film frame fills its
lines, where text on a black slate or in rolling credits leaves most of them dark (and so does
a very dark scene, which is then left whole)."""
_INSET = 1
"""View pixels taken off each trimmed side: chroma subsampling and scaling smear the bar into
the picture's first line, which would leave a dark seam on the thumbnail."""
_MIN_PICTURE = 0.3
"""The picture keeps at least this share of each side, or nothing is trimmed."""


def find_picture(view: torch.Tensor, cfg: CandidatesConfig) -> Box | None:
    """(x, y, width, height) of the picture inside black bars, in the (3, H, W) uint8 view's
    pixels; None when the frame has no bars to trim."""
    bright = view.amax(dim=0) > cfg.border_luma  # (H, W): a pixel any channel lights up
    height, width = bright.shape
    rows = _picture_span(bright.float().mean(dim=1), cfg.min_border)
    cols = _picture_span(bright.float().mean(dim=0), cfg.min_border)
    if rows is None and cols is None:
        return None
    top, bottom = rows or (0, height)
    left, right = cols or (0, width)
    return (left, top, right - left, bottom - top)


def _picture_span(lit: torch.Tensor, min_border: float) -> tuple[int, int] | None:
    """(first, end) of the lines that are picture, given each line's lit share; None unless
    bars of at least ``min_border`` of the lines sit at both ends."""
    picture = torch.nonzero(lit > _HOT_PIXELS).flatten().tolist()
    if not picture:
        return None
    first, end, lines = picture[0], picture[-1] + 1, len(lit)
    for _ in range(_SEAM if end - first > 2 * _SEAM else 0):  # sparse lines beside a bar: its ringing
        first += int(lit[first] < _SEAM_LIT)
        end -= int(lit[end - 1] < _SEAM_LIT)
    least = max(1, round(min_border * lines))
    if first < least or lines - end < least or end - first < _MIN_PICTURE * lines:
        return None
    if lit[first:end].mean() < _PICTURE_LIT:
        return None  # text or a logo on black (a slate, credits), or a dark scene: leave it whole
    return first + _INSET, end - _INSET


def to_frame(box: Box, view_size: tuple[int, int], frame_size: tuple[int, int]) -> Box:
    """A box in view pixels scaled to the upright frame's pixels, kept inside the frame."""
    sx, sy = frame_size[0] / view_size[0], frame_size[1] / view_size[1]
    x0, y0 = round(box[0] * sx), round(box[1] * sy)
    x1 = min(frame_size[0], round((box[0] + box[2]) * sx))
    y1 = min(frame_size[1], round((box[1] + box[3]) * sy))
    return (x0, y0, x1 - x0, y1 - y0)
