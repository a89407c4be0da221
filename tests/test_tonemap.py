"""HDR (PQ and HLG) tone mapping: the transfer functions, and clips made from photos.

The clips are encoded here, independently of ``streamthumb.tonemap``: sRGB photo -> linear ->
BT.2020 primaries (the published BT.2087 matrix) -> SDR white at 203 nits (BT.2408) -> the PQ
inverse EOTF or the HLG inverse OOTF and OETF -> BT.2020 Y'CbCr, 10 bits, tagged as HDR. A
correct decoder gives the photo back, up to the roll-off of its brightest whites.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from skimage import data

from streamthumb.decode import VideoReader, _pq_source_peak, analysis_view, hdr_transfer, to_rgb
from streamthumb.tonemap import (
    REFERENCE_WHITE_NITS,
    bt2390_eetf,
    convert_primaries,
    hdr_to_sdr,
    hlg_to_display,
    pq_eotf,
    pq_inverse_eotf,
    soft_clip_gamut,
    srgb_encode,
)
from synthetic import Segment, rotate_mp4, write_video

BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
"""ITU-R BT.2087, linear light."""

BT2020_TO_BT709 = [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]
"""ITU-R BT.2407, linear light."""

TRC = {"pq": 16, "hlg": 18}  # SMPTE ST 2084, ARIB STD-B67
BT2020 = 9  # both the primaries and the non-constant-luminance matrix
UNSPECIFIED = 2


# -- the transfer functions ---------------------------------------------------------------------


def test_pq_round_trips_and_hits_the_bt2408_reference_points():
    nits = torch.tensor([0.0, 0.01, 1.0, 100.0, 203.0, 1000.0, 10000.0])
    assert torch.allclose(pq_eotf(pq_inverse_eotf(nits)), nits, rtol=1e-3, atol=1e-4)
    # BT.2408: reference white (203 nits) is a PQ signal of 58 %; 1000 nits is 75 %.
    assert pq_inverse_eotf(torch.tensor([203.0, 1000.0])).tolist() == pytest.approx([0.58, 0.75], abs=0.005)


def test_hlg_renders_reference_white_at_203_nits_on_a_1000_nit_display():
    grey = torch.tensor([0.75, 1.0, 0.0]).view(3, 1, 1, 1).expand(3, 3, 1, 1)
    nits = hlg_to_display(grey)[:, 0, 0, 0]
    assert nits.tolist() == pytest.approx([REFERENCE_WHITE_NITS, 1000.0, 0.0], abs=1.0)  # BT.2408


def test_eetf_keeps_shadows_and_rolls_highlights_off_smoothly():
    nits = torch.linspace(0, 1200, 2401)
    mapped = bt2390_eetf(nits, 1000.0, REFERENCE_WHITE_NITS)
    dark = nits < 80
    assert torch.allclose(mapped[dark], nits[dark], rtol=1e-3, atol=1e-3)  # below the knee: untouched
    assert (mapped.diff() >= -1e-3).all()  # monotonic: highlights keep their order
    assert mapped.max() == pytest.approx(REFERENCE_WHITE_NITS, rel=1e-3)
    assert mapped[nits == 500].item() < mapped[nits == 1000].item()  # graded, not clipped
    assert mapped.diff().abs().max() < 0.6  # continuous (step 0.5 nit): no jump at the knee
    assert torch.equal(bt2390_eetf(nits, 100.0, 203.0), nits.clamp(max=203.0))  # nothing to compress


def test_primaries_matrix_is_the_published_one():
    eye = torch.eye(3, dtype=torch.float64).view(3, 3, 1, 1)  # (N=3 columns, C, 1, 1)
    matrix = convert_primaries(eye, "bt2020", "bt709")[:, :, 0, 0].T
    assert torch.allclose(matrix, torch.tensor(BT2020_TO_BT709, dtype=torch.float64), atol=2e-4)
    white = convert_primaries(torch.ones(3, 1, 1), "bt2020", "bt709")
    assert torch.allclose(white, torch.ones(3, 1, 1), atol=1e-5)


def test_soft_clip_pulls_colours_into_gamut_and_keeps_the_rest():
    rgb = torch.tensor([[0.5, 0.4, 0.3], [1.2, 0.3, -0.1], [0.0, 0.9, -0.4], [0.2, 0.2, 0.2]]).T.reshape(3, 1, 4)
    clipped = soft_clip_gamut(rgb)
    assert (clipped >= 0).all()
    assert torch.allclose(clipped[:, :, [0, 3]], rgb[:, :, [0, 3]])  # mild and grey colours untouched
    weights = torch.tensor([0.2126, 0.7152, 0.0722]).view(3, 1, 1)
    assert torch.allclose((clipped * weights).sum(0), (rgb * weights).sum(0), atol=1e-5)  # luminance kept
    # Hue kept: the out-of-gamut red stays the most red channel, the green stays green.
    assert clipped[:, 0, 1].argmax() == 0 and clipped[:, 0, 2].argmax() == 1


def test_srgb_encoding_endpoints():
    assert srgb_encode(torch.tensor([0.0, 0.0031308, 0.18, 1.0, 2.0])).tolist() == pytest.approx(
        [0.0, 0.04045, 0.4614, 1.0, 1.0], abs=1e-4
    )


def test_hdr_to_sdr_is_batched():
    rng = np.random.default_rng(0)
    signal = torch.from_numpy(rng.integers(0, 65536, (4, 3, 16, 24), dtype=np.uint16))
    batch = hdr_to_sdr(signal, "pq")
    assert batch.shape == (4, 3, 16, 24) and batch.dtype == torch.uint8
    for i in range(4):
        assert torch.equal(batch[i], hdr_to_sdr(signal[i], "pq"))
    assert torch.equal(hdr_to_sdr(signal.float() / 65535, "pq"), batch)  # uint16 or float signal


def test_lookup_tables_match_the_exact_curves():
    """hdr_to_sdr reads its curves from tables; composed exactly in float64 they agree."""
    codes = torch.from_numpy(np.random.default_rng(1).integers(0, 65536, (3, 128, 128), dtype=np.uint16))
    for transfer, peak in (("pq", 1000.0), ("pq", 4000.0), ("hlg", 1000.0)):
        signal = codes.double() / 65535
        nits = pq_eotf(signal) if transfer == "pq" else hlg_to_display(signal)
        rgb = soft_clip_gamut(convert_primaries(nits, "bt2020", "bt709")).clamp(min=0)
        brightest = rgb.amax(dim=0, keepdim=True)
        mapped = bt2390_eetf(brightest, peak, REFERENCE_WHITE_NITS) / REFERENCE_WHITE_NITS
        exact = (srgb_encode(rgb * mapped / brightest.clamp(min=1e-12)) * 255).round()
        fast = hdr_to_sdr(codes, transfer, source_peak=peak).double()
        assert (fast - exact).abs().max() <= 1
        assert ((fast - exact).abs() > 0).double().mean() < 0.02  # off by one only at rounding edges


@pytest.mark.needs_cuda
def test_hdr_to_sdr_on_cuda_matches_cpu():
    signal = torch.from_numpy(np.random.default_rng(0).integers(0, 65536, (2, 3, 64, 64), dtype=np.uint16))
    for transfer in ("pq", "hlg"):
        cpu = hdr_to_sdr(signal, transfer).int()
        gpu = hdr_to_sdr(signal.cuda(), transfer)
        assert gpu.is_cuda
        assert (gpu.cpu().int() - cpu).abs().max() <= 1


# -- clips made from photos ---------------------------------------------------------------------


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _pq_encode(nits: np.ndarray) -> np.ndarray:
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128
    y = np.clip(nits / 10000, 0, 1) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def _hlg_encode(nits: np.ndarray) -> np.ndarray:
    """Inverse OOTF of a 1000 nit display (system gamma 1.2), then the HLG OETF."""
    y = np.maximum(nits @ np.array([0.2627, 0.6780, 0.0593]), 1e-9)[..., None]
    scene = nits / 1000 * (y / 1000) ** ((1 - 1.2) / 1.2)
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-9)) + c)


def _hdr_codec() -> str:
    """The best encoder this PyAV has for 10-bit 4:2:0."""
    return next(c for c in ("libx265", "libx264") if c in av.codec.codecs_available)


def write_hdr_photo(path: Path, image: np.ndarray, transfer: str, *, full_range: bool = False, tag_matrix: bool = True):
    """Encode an sRGB photo as one HDR frame, SDR white at 203 nits; return the photo as cropped."""
    h, w = (s - s % 2 for s in image.shape[:2])
    image = image[:h, :w]
    nits = _srgb_to_linear(image / 255.0) @ BT709_TO_BT2020.T * REFERENCE_WHITE_NITS
    signal = _pq_encode(nits) if transfer == "pq" else _hlg_encode(nits)
    kr, kb = 0.2627, 0.0593
    y = signal @ np.array([kr, 1 - kr - kb, kb])
    cb = (signal[..., 2] - y) / (2 * (1 - kb))
    cr = (signal[..., 0] - y) / (2 * (1 - kr))
    (ys, yo), (cs, co) = ((1023, 0), (1023, 512)) if full_range else ((876, 64), (896, 512))
    half = [(p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) * cs + co).ravel() for p in (cb, cr)]
    planes = np.concatenate([(y * ys + yo).ravel(), *half])
    yuv = np.clip(np.round(planes), 0, 1023).astype(np.uint16).reshape(h * 3 // 2, w)
    codec = _hdr_codec()
    tags = (BT2020, TRC[transfer], BT2020 if tag_matrix else UNSPECIFIED, 2 if full_range else 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p10le"
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = tags
        # No B-frames: with them, libx265 gives a lone frame's packet a garbage dts that mp4 rejects.
        x265 = {"x265-params": "log-level=error:crf=10:bframes=0"}
        stream.options = x265 if codec == "libx265" else {"crf": "10"}
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p10le")
        frame.pts = 0
        frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = tags
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return image


def _first_frame(path: Path) -> av.VideoFrame:
    with VideoReader(path) as reader:
        return next(iter(reader))[0]


def _hwc(rgb: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(rgb.permute(1, 2, 0).numpy())


def _saturation(rgb: np.ndarray) -> float:
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].mean())


def _black_level(rgb: np.ndarray) -> float:
    return float(np.percentile(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1))


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    """The worst channel's mean absolute error."""
    return float(np.abs(a.astype(float) - b.astype(float)).mean(axis=(0, 1)).max())


CLIPS = [
    pytest.param("astronaut", "pq", {}, id="astronaut-pq"),
    pytest.param("coffee", "pq", {}, id="coffee-pq"),
    pytest.param("coffee", "pq", {"full_range": True}, id="coffee-pq-full-range"),
    pytest.param("astronaut", "pq", {"tag_matrix": False}, id="astronaut-pq-untagged-matrix"),
    pytest.param("coffee", "hlg", {}, id="coffee-hlg"),
    pytest.param("astronaut", "hlg", {}, id="astronaut-hlg"),
]


@pytest.mark.parametrize(("name", "transfer", "options"), CLIPS)
def test_hdr_clip_looks_like_the_photo(tmp_path, name, transfer, options):
    photo = write_hdr_photo(tmp_path / "hdr.mp4", getattr(data, name)(), transfer, **options)
    frame = _first_frame(tmp_path / "hdr.mp4")
    assert hdr_transfer(frame) == transfer

    mapped = _hwc(to_rgb(frame))
    assert mapped.shape == photo.shape
    assert _saturation(mapped) >= 0.85 * _saturation(photo)
    assert abs(_black_level(mapped) - _black_level(photo)) <= 8
    assert _mae(mapped, photo) < 12

    # The candidates' view is the same picture, smaller.
    view = _hwc(analysis_view(frame, 120))
    small = cv2.resize(photo, view.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert _saturation(view) >= 0.85 * _saturation(small)
    assert _mae(view, small) < 12

    # Without tone mapping the same frame is the grey, flat picture of the bug (HLG, made to be
    # watchable on SDR screens, is less flat than PQ, but still fails the bounds above).
    washed_out = 0.7 if transfer == "pq" else 0.85
    flat = _hwc(to_rgb(frame, tone_map=False))
    assert _saturation(flat) < washed_out * _saturation(photo)
    assert _mae(flat, photo) > 20
    flat_view = _hwc(analysis_view(frame, 120, tone_map=False))
    assert _saturation(flat_view) < washed_out * _saturation(small)


def test_sdr_frames_are_not_hdr(tmp_path):
    write_video(tmp_path / "sdr.mp4", [Segment("coffee", 0.2)], pix_fmt="yuv420p10le", size=(64, 48))
    frame = _first_frame(tmp_path / "sdr.mp4")
    assert hdr_transfer(frame) is None
    assert hdr_transfer(_hwc(to_rgb(frame))) is None  # arrays and tensors are taken as SDR
    assert hdr_transfer(to_rgb(frame)) is None


def test_rotated_hdr_clip_comes_out_upright(tmp_path):
    write_hdr_photo(tmp_path / "flat.mp4", data.coffee()[:240, :320], "pq")
    rotate_mp4(tmp_path / "flat.mp4", tmp_path / "portrait.mp4", 90)
    plain = to_rgb(_first_frame(tmp_path / "flat.mp4"))
    frame = _first_frame(tmp_path / "portrait.mp4")
    assert torch.equal(to_rgb(frame), torch.rot90(plain, k=-1, dims=(1, 2)))
    assert tuple(analysis_view(frame, 120).shape) == (3, 160, 120)


def test_light_level_metadata_sets_the_source_peak(tmp_path):
    if _hdr_codec() != "libx265":
        pytest.skip("needs libx265 to write HDR10 SEI")
    path = tmp_path / "hdr10.mp4"
    yuv = np.full((96, 64), 512, np.uint16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p10le"
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = BT2020, TRC["pq"], BT2020, 1
        mastering = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50)"
        stream.options = {
            "x265-params": f"log-level=error:bframes=0:hdr10=1:max-cll=600,400:master-display={mastering}"
        }
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p10le")
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    # MaxCLL 600 nits on a 4000 nit mastering display: the content never exceeds 600.
    assert _pq_source_peak(_first_frame(path)) == pytest.approx(600.0)
    assert _pq_source_peak(_first_frame(_write_plain_pq(tmp_path))) is None


def _write_plain_pq(tmp_path: Path) -> Path:
    write_hdr_photo(tmp_path / "plain.mp4", data.coffee()[:64, :64], "pq")
    return tmp_path / "plain.mp4"


def test_pick_on_a_pq_clip_gives_a_thumbnail_with_the_photos_colour(tmp_path):
    """End to end: views, filters and the written pick all see the tone-mapped picture."""
    from skimage import data

    from streamthumb import Config, pick
    from streamthumb.scoring import ModelFreeScorer

    path = tmp_path / "pq.mp4"
    photo = write_hdr_photo(path, data.coffee(), "pq")
    config = Config().with_overrides({"runtime.device": "cpu"})
    (mapped,) = pick(path, config, k=1, scorer=ModelFreeScorer()).picks
    off = config.with_overrides({"decode.tone_map": "off"})
    (flat,) = pick(path, off, k=1, scorer=ModelFreeScorer()).picks
    assert _saturation(mapped.image) >= 0.85 * _saturation(photo) > _saturation(flat.image) / 0.85
    assert (
        abs(_black_level(mapped.image) - _black_level(photo)) <= 8 < abs(_black_level(flat.image) - _black_level(photo))
    )
    assert mapped.candidate.signals["luma_range"] > flat.candidate.signals["luma_range"]
