"""Blur and exposure measures for a batch of candidates, on the device, before CLIP.

CLIP is tolerant of blur, so blurred and black frames are dropped here first. Frames are
measured at a fixed analysis size (shorter side): the variance of the Laplacian depends on
resolution, and measuring at one size lets a single threshold serve 480p, 720p and 1080p.

Example:
    >>> sharp, bright = measure(batch_uint8, analysis_size=360)
    >>> keep = passes(SharpnessConfig(), sharp, bright)
"""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F

from .config import SharpnessConfig
from .decode import scaled_size

__all__ = ["exposure_ok", "measure", "passes"]


@torch.inference_mode()
def measure(images: torch.Tensor, analysis_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance of the Laplacian and mean luma of (N, 3, H, W) uint8 RGB images.

    Images whose shorter side is not ``analysis_size`` are resized first; the picker hands over
    frames already scaled there by FFmpeg, which is cheaper than scaling full frames here.

    Returns:
        Two float32 tensors of shape (N,), on the images' device, both on a 0-255 scale.
    """
    gray = kornia.color.rgb_to_grayscale(images.float())
    height, width = gray.shape[-2:]
    if min(height, width) != analysis_size:
        size = scaled_size(width, height, analysis_size)
        gray = F.interpolate(gray, size=(size[1], size[0]), mode="bilinear", antialias=True, align_corners=False)
    lap = kornia.filters.laplacian(gray, kernel_size=3, border_type="replicate", normalized=False)
    return lap.flatten(1).var(dim=1), gray.flatten(1).mean(dim=1)


def passes(cfg: SharpnessConfig, sharpness: torch.Tensor, brightness: torch.Tensor) -> torch.Tensor:
    """Boolean mask of frames sharp enough and neither black nor blown out."""
    return (sharpness >= cfg.min_sharpness) & exposure_ok(cfg, brightness)


def exposure_ok(cfg: SharpnessConfig, brightness: torch.Tensor) -> torch.Tensor:
    """Boolean mask of frames whose mean luma lies inside the configured range."""
    return (brightness >= cfg.min_brightness) & (brightness <= cfg.max_brightness)
