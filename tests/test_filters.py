import cv2
import numpy as np
import pytest
import torch

from streamthumb.config import SharpnessConfig
from streamthumb.sharpness import measure, passes
from synthetic import PHOTOS, photo

RESOLUTIONS = [(854, 480), (1280, 720), (1920, 1080)]


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def frames(width: int, height: int, blur_sigma_at_360p: float) -> list[np.ndarray]:
    out = []
    for name in PHOTOS:
        img = np.ascontiguousarray(photo(name, width, height, zoom=1.0)[:height, :width])
        if blur_sigma_at_360p:
            img = cv2.GaussianBlur(img, (0, 0), blur_sigma_at_360p * height / 360)
        out.append(img)
    return out


@pytest.mark.parametrize(("width", "height"), RESOLUTIONS)
def test_one_threshold_separates_sharp_from_blurred_at_every_resolution(width, height):
    cfg = SharpnessConfig()
    sharp, bright = measure(as_batch(frames(width, height, 0)), cfg.analysis_size)
    assert passes(cfg, sharp, bright).all(), sharp
    blurred, bright = measure(as_batch(frames(width, height, 3.0)), cfg.analysis_size)
    assert not passes(cfg, blurred, bright).any(), blurred


def test_black_and_blown_out_frames_fail_exposure():
    cfg = SharpnessConfig()
    rng = np.random.default_rng(0)
    sharp = frames(640, 360, 0)[0]
    black = rng.integers(0, 8, size=sharp.shape, dtype=np.uint8)
    white = (255 - black).astype(np.uint8)
    dim = (sharp * 0.05).astype(np.uint8)  # detailed but far too dark
    s, b = measure(as_batch([sharp, black, white, dim]), cfg.analysis_size)
    assert passes(cfg, s, b).tolist() == [True, False, False, False]


def test_measure_is_batch_independent():
    imgs = frames(640, 360, 1.0)
    together, _ = measure(as_batch(imgs), 360)
    alone = torch.cat([measure(as_batch([im]), 360)[0] for im in imgs])
    assert torch.allclose(together, alone, rtol=1e-4)
