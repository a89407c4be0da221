"""The filter and bonus interfaces, and the batch of analysis views they all measure."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F

from ..config import Config
from ..results import Verdict

if TYPE_CHECKING:
    from ..record import Candidate

__all__ = ["Bonus", "Filter", "Views", "halve", "laplacian", "measure_all", "same_shape", "variance"]


@torch.inference_mode()
def laplacian(gray: torch.Tensor) -> torch.Tensor:
    """Kornia's unnormalised 3x3 Laplacian (eight neighbours less eight times the centre) of
    (N, 1, H, W) float images, borders replicated, which the sharpness threshold was set with.

    Written as a 3x3 box sum of shifted slices less nine times the centre: on a CPU a
    one-channel ``conv2d`` costs 5 ms a 640x360 image, this 0.3 ms, the same numbers to float
    rounding.
    """
    padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    height, width = gray.shape[-2:]
    rows = padded[..., :height, :] + padded[..., 1 : height + 1, :] + padded[..., 2:, :]
    box = rows[..., :width] + rows[..., 1 : width + 1] + rows[..., 2:]
    return box - 9 * gray


def variance(rows: torch.Tensor) -> torch.Tensor:
    """(N,) unbiased variance of each row of (N, M) float values.

    Two passes, the mean then the sum of squared deviations: on a CPU, ``Tensor.var`` (one
    Welford pass) costs three times as much on 16 views of 640x360 (26 against 9 ms), and the
    two agree to 1e-7 of the variance.
    """
    centred = rows - rows.mean(dim=1, keepdim=True)
    return torch.linalg.vecdot(centred, centred) / max(1, rows.shape[1] - 1)


def halve(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H // 2, W // 2): the mean of each 2x2 block, as ``avg_pool2d(images, 2)`` gives,
    from four strided slices, which cost two thirds of it on a CPU."""
    height, width = images.shape[-2] // 2 * 2, images.shape[-1] // 2 * 2
    even, odd = images[..., 0:height:2, :width], images[..., 1:height:2, :width]
    return (even[..., 0::2] + even[..., 1::2] + odd[..., 0::2] + odd[..., 1::2]) * 0.25


class Views:
    """A batch of (N, 3, H, W) uint8 RGB analysis views, with derived planes computed once.

    Every filter reads the same gray plane; computing it once per batch keeps N filters
    from paying N conversions.

    Args:
        images: The views, on the device the filters run on.
        analysis_size: The shorter side measures are defined at; views of another size are
            resized first (the picker hands them over at this size already).
    """

    def __init__(self, images: torch.Tensor, analysis_size: int = 360):
        self.images = images
        self.analysis_size = analysis_size

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @cached_property
    def rgb(self) -> torch.Tensor:
        """(N, 3, h, w) float32 0-255 at the analysis size."""
        x = self.images.float()
        height, width = x.shape[-2:]
        if min(height, width) == self.analysis_size:
            return x
        scale = self.analysis_size / min(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)

    @cached_property
    def gray(self) -> torch.Tensor:
        """(N, 1, h, w) float32 luma 0-255 (BT.601 weights, as OpenCV and Kornia use)."""
        import kornia

        return kornia.color.rgb_to_grayscale(self.rgb)

    @cached_property
    def laplacian(self) -> torch.Tensor:
        """(N, 1, h, w) 3x3 Laplacian of ``gray``: the sharpness, centre and noise measures share it."""
        return laplacian(self.gray)

    @cached_property
    def laplacian_variance(self) -> torch.Tensor:
        """(N,) variance of ``laplacian``: the sharpness threshold's measure, which the noise
        filter compares across sizes."""
        return variance(self.laplacian.flatten(1))

    @cached_property
    def histogram(self) -> torch.Tensor:
        """(N, 256) float32 share of pixels per luma level: percentiles and entropy read it."""
        n = len(self)
        offsets = 256 * torch.arange(n, device=self.gray.device)[:, None]
        levels = self.gray.flatten(1).round().clamp(0, 255).long() + offsets
        counts = torch.bincount(levels.flatten(), minlength=256 * n).view(n, 256).float()
        return counts / counts.sum(dim=1, keepdim=True)

    def percentile(self, q: float) -> torch.Tensor:
        """(N,) luma level below which a share ``q`` of each image's pixels lie."""
        cdf = self.histogram.cumsum(dim=1)
        return (cdf < q).sum(dim=1).float()


class Filter(ABC):
    """Measures signals on a batch of views, then judges each candidate pass or fail.

    Args:
        config: The whole config; a filter reads its own section, ``config.filters.<name>``.
    """

    name: ClassVar[str]
    """Registry key and config section."""
    reasons: ClassVar[tuple[str, ...]]
    """The rejection reasons this filter can give."""

    def __init__(self, config: Config):
        self.config = config

    @abstractmethod
    def measure(self, views: Views) -> dict[str, torch.Tensor]:
        """Signals by name, each an (N,) float tensor."""

    @abstractmethod
    def judge(self, signals: Mapping[str, float]) -> Verdict:
        """One candidate's verdict from its signals (all filters' signals are there)."""


class Bonus(ABC):
    """Adds to a scored candidate's score; may be costly, so it declares its maximum.

    Args:
        config: The whole config.
    """

    name: ClassVar[str]
    maximum: float = 0.0
    """The most ``apply`` can add: a candidate that cannot reach the pool even with it is
    never searched."""
    minimum: float = 0.0
    """The least ``apply`` can add (a penalty is negative); with ``maximum``, the bounds the
    pool ranks an unsearched candidate between."""

    def __init__(self, config: Config):
        self.config = config

    @abstractmethod
    def apply(self, candidates: Sequence[Candidate]) -> None:
        """Measure and add the bonus to each candidate's score, in place."""


def same_shape(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Candidates grouped by view shape: a stream may change resolution, a batch may not."""
    groups: dict[tuple[int, ...], list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(tuple(c.view.shape), []).append(c)
    return list(groups.values())


def measure_all(filters: Sequence[Filter], views: Views) -> dict[str, torch.Tensor]:
    """Every filter's signals for one batch, merged by name."""
    signals: dict[str, torch.Tensor] = {}
    for f in filters:
        signals.update(f.measure(views))
    return signals
