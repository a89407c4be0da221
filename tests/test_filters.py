"""The filters: what each catches, and one conformance suite every registered filter passes."""

import badframes as bf
import cv2
import numpy as np
import pytest
import torch

from streamthumb.config import Config, FiltersConfig
from streamthumb.filters import FILTERS, Views, make_filters, measure_all
from streamthumb.results import Verdict
from synthetic import PHOTOS, photo

RESOLUTIONS = [(854, 480), (1280, 720), (1920, 1080)]
PLANNER_MEASURED = {"transition"}
"""Filters whose signals the candidate planner measures in the decode pass."""


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


def verdicts(images: list[np.ndarray], config: Config | None = None) -> list[list[Verdict]]:
    config = config or Config()
    filters = make_filters(config)
    signals = {k: v.tolist() for k, v in measure_all(filters, Views(as_batch(images))).items()}
    return [[f.judge({k: v[i] for k, v in signals.items()}) for f in filters] for i in range(len(images))]


def failed(images: list[np.ndarray], config: Config | None = None) -> list[tuple[str, ...]]:
    return [tuple(v.reason for v in vs if not v.passed) for vs in verdicts(images, config)]


@pytest.mark.parametrize(("width", "height"), RESOLUTIONS)
def test_one_threshold_separates_sharp_from_blurred_at_every_resolution(width, height):
    assert failed(frames(width, height, 0)) == [()] * len(PHOTOS)
    assert all("blurry" in r for r in failed(frames(width, height, 3.0)))


def test_black_and_blown_out_frames_fail_exposure():
    rng = np.random.default_rng(0)
    sharp = frames(640, 360, 0)[0]
    black = rng.integers(0, 8, size=sharp.shape, dtype=np.uint8)
    white = (255 - black).astype(np.uint8)
    dim = (sharp * 0.05).astype(np.uint8)  # detailed but far too dark
    reasons = failed([sharp, black, white, dim])
    assert reasons[0] == () and "dark" in reasons[1] and "blown_out" in reasons[2] and "dark" in reasons[3]


def test_a_frame_failing_two_filters_gets_both_reasons():
    blurred_dark = (cv2.GaussianBlur(frames(640, 360, 0)[1], (0, 0), 6) * 0.05).astype(np.uint8)
    assert set(failed([blurred_dark])[0]) >= {"blurry", "dark"}


def test_registry_matches_the_config_sections():
    sections = {name for name in vars(FiltersConfig()) if name != "enabled"}
    assert set(FILTERS) == sections
    assert [type(f).name for f in make_filters(Config())] == list(Config().filters.enabled)


@pytest.mark.parametrize("name", sorted(FILTERS))
class TestFilterConformance:
    """Every registered filter: batch-shaped, device-agnostic, deterministic, explainable."""

    def make(self, name):
        return FILTERS[name](Config())

    def test_measure_returns_one_finite_value_per_image(self, name):
        images = frames(640, 360, 0)[:4]
        signals = self.make(name).measure(Views(as_batch(images)))
        assert all(v.shape == (4,) and v.dtype == torch.float32 for v in signals.values())
        assert all(torch.isfinite(v).all() for v in signals.values())
        assert signals or name in PLANNER_MEASURED  # only the planner's filters measure nothing here

    def test_measure_is_batch_independent(self, name):
        imgs = frames(640, 360, 1.0)
        together = self.make(name).measure(Views(as_batch(imgs)))
        for i, im in enumerate(imgs):
            alone = self.make(name).measure(Views(as_batch([im])))
            for key, value in alone.items():
                assert torch.allclose(together[key][i], value[0], rtol=1e-4), key

    def test_resolution_is_normalised_to_the_analysis_size(self, name):
        """A 1080p frame and its 360p copy get the same verdict: views are measured at one size."""
        f, every = self.make(name), make_filters(Config())
        big = frames(1920, 1080, 0) + frames(1920, 1080, 3.0)
        small = [cv2.resize(im, (640, 360), interpolation=cv2.INTER_AREA) for im in big]
        a = {k: v.tolist() for k, v in measure_all(every, Views(as_batch(big))).items()}
        b = {k: v.tolist() for k, v in measure_all(every, Views(as_batch(small))).items()}
        for i in range(len(big)):
            va, vb = f.judge({k: v[i] for k, v in a.items()}), f.judge({k: v[i] for k, v in b.items()})
            assert va.passed == vb.passed and 0.5 < (va.value + 1) / (vb.value + 1) < 2, (i, va, vb)

    def test_verdicts_name_the_filter_a_known_reason_and_the_threshold(self, name):
        f = self.make(name)
        views = Views(as_batch(frames(640, 360, 0)[:2]))
        signals = {k: v.tolist() for k, v in measure_all(make_filters(Config()), views).items()}
        verdict = f.judge({k: v[0] for k, v in signals.items()})
        assert verdict.stage == name and verdict.reason in f.reasons
        assert isinstance(verdict.threshold, float) and isinstance(verdict.value, float)

    @pytest.mark.needs_cuda
    def test_same_signals_on_cuda(self, name):
        images = as_batch(frames(640, 360, 0)[:3])
        cpu = self.make(name).measure(Views(images))
        gpu = self.make(name).measure(Views(images.cuda()))
        for key in cpu:
            assert torch.allclose(cpu[key], gpu[key].cpu(), rtol=1e-3), key


W, H = 640, 360
BAD = {
    "motion blur x": (lambda p: next(bf.motion_blur(p, 1, W, H, "x")), "motion_blur"),
    "motion blur y": (lambda p: next(bf.motion_blur(p, 1, W, H, "y")), "motion_blur"),
    "defocus": (lambda p: next(bf.defocus(p, 1, W, H)), "blurry"),
    "washed out": (lambda p: next(bf.washed_out(p, 1, W, H)), {"washed_out", "low_contrast"}),
    "static": (lambda p: next(bf.static(1, W, H)), "noise"),
    "colour bars": (lambda p: next(bf.colour_bars(1, W, H)), "graphic"),
    "slate": (lambda p: next(bf.slate(1, W, H)), "graphic"),
    "end card": (lambda p: next(bf.end_card(1, W, H)), "graphic"),
    "credits": (lambda p: list(bf.credits(20, W, H))[10], "graphic"),
}


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("name", ["coffee", "astronaut", "chelsea", "brick"])
def test_each_bad_kind_is_rejected_for_its_reason(kind, name):
    make, reason = BAD[kind]
    wanted = {reason} if isinstance(reason, str) else reason
    assert wanted & set(failed([make(name)])[0]), kind


def test_good_photos_pass_every_filter_at_every_resolution():
    for width, height in RESOLUTIONS:
        assert failed(frames(width, height, 0)) == [()] * len(PHOTOS)


def test_a_mild_horizontal_smear_passes_the_laplacian_but_not_the_blur_filter():
    """The case seen on real footage: variance of the Laplacian well above 40, still smeared."""
    img = frames(W, H, 0)[1]
    kernel = np.zeros((13, 13), np.float32)
    kernel[6, :] = 1 / 13
    smeared = cv2.filter2D(img, -1, kernel)
    (vs,) = verdicts([smeared])
    by_stage = {v.stage: v for v in vs}
    assert by_stage["sharpness"].passed and by_stage["sharpness"].value > 100
    assert not by_stage["blur"].passed and by_stage["blur"].reason == "motion_blur"


def test_the_laplacian_is_kornias():
    """The shifted-slices Laplacian gives Kornia's unnormalised 3x3 one, borders replicated."""
    import kornia

    from streamthumb.filters._base import laplacian

    gray = torch.rand(2, 1, 37, 53) * 255
    expected = kornia.filters.laplacian(gray, 3, border_type="replicate", normalized=False)
    assert torch.allclose(laplacian(gray), expected, atol=1e-3)


def test_blur_effect_is_the_gradient_a_9_pixel_box_blur_takes_away():
    """The box blur is never made (a difference of pixels 9 apart stands in): same numbers."""
    import torch.nn.functional as F

    from streamthumb.filters.blur import blur_effect

    gray = torch.rand(3, 1, 40, 70, generator=torch.Generator().manual_seed(0)) * 255
    gray[1] = F.avg_pool2d(gray[1:2], (1, 5), stride=1, padding=(0, 2))  # blurred along x
    for axis, kernel, pad in ((-1, (1, 9), (4, 4, 0, 0)), (-2, (9, 1), (0, 0, 4, 4))):
        blurred = F.avg_pool2d(F.pad(gray, pad, mode="replicate"), kernel, stride=1)
        sharp, soft = gray.diff(dim=axis).abs(), blurred.diff(dim=axis).abs()
        expected = 1 - (sharp - soft).clamp(min=0).flatten(1).sum(1) / sharp.flatten(1).sum(1)
        assert torch.allclose(blur_effect(gray, axis), expected, atol=1e-5)
    assert blur_effect(gray, -1)[1] > blur_effect(gray, -2)[1] + 0.1


def test_variance_and_halve_equal_torch_s_own_on_odd_sizes_and_bright_images():
    from streamthumb.filters._base import halve, variance

    images = 200 + 40 * torch.rand(4, 3, 37, 65, generator=torch.Generator().manual_seed(0))  # a mean far from 0
    rows = images.flatten(1)
    assert torch.allclose(variance(rows), rows.var(dim=1), rtol=1e-5)
    assert torch.allclose(variance(rows[:, :1]), torch.zeros(4))  # one value: no spread, no division by 0
    assert halve(images).shape == (4, 3, 18, 32)
    assert torch.allclose(halve(images), torch.nn.functional.avg_pool2d(images, 2), rtol=1e-6)
