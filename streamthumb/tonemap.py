"""Tone-map HDR (PQ and HLG) pictures to BT.709 SDR, in torch, batched, on any device.

swscale's plain YUV -> RGB conversion applies the matrix but no transfer function, so a PQ or
HLG signal shown as if it were SDR comes out grey and flat (half the saturation, lifted blacks).
The FFmpeg bundled with PyAV has no ``zscale``, and swscale's own colour management (PyAV's
``reformat(dst_color_trc=..., dst_color_primaries=...)``) clips every highlight above reference
white to 255, so the transfer functions are done here, on the BT.2020 R'G'B' that swscale
decodes at 16 bits (``rgb48le``):

1. signal -> display light in nits: the PQ EOTF (SMPTE ST 2084), or for HLG the inverse OETF and
   the OOTF of a 1000 nit display (ITU-R BT.2100);
2. source primaries -> BT.709 primaries (a 3x3 matrix on linear light), then a hue-preserving
   soft clip of the colours BT.709 cannot show;
3. the BT.2390 EETF on max(R, G, B), from the source peak down to HDR reference white (203 nits,
   ITU-R BT.2408), which becomes SDR white: shadows, midtones and skin stay where a colourist
   put them and only what is brighter than ~90 nits (for a 1000 nit source) is rolled off.
   Working on max(R, G, B) rather than per channel keeps hue and saturation, and rather than
   on luminance never pushes a channel past white;
4. the sRGB encoding (IEC 61966-2-1), because thumbnails are sRGB images, and 8-bit rounding.

Example:
    >>> rgb48 = torch.from_numpy(frame.reformat(format="rgb48le").to_ndarray()).permute(2, 0, 1)
    >>> sdr = hdr_to_sdr(rgb48, "pq")  # (3, H, W) uint8 sRGB; (N, 3, H, W) batches work too
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch

__all__ = [
    "DEFAULT_PQ_PEAK_NITS",
    "PRIMARIES",
    "REFERENCE_WHITE_NITS",
    "Transfer",
    "bt2390_eetf",
    "convert_primaries",
    "hdr_to_sdr",
    "hlg_inverse_oetf",
    "hlg_ootf",
    "hlg_to_display",
    "luma_weights",
    "pq_eotf",
    "pq_inverse_eotf",
    "soft_clip_gamut",
    "srgb_encode",
]

Transfer = Literal["pq", "hlg"]
"""The HDR transfer functions handled: PQ (SMPTE ST 2084, HDR10) and HLG (ARIB STD-B67)."""

Chromaticities = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]

PRIMARIES: dict[str, Chromaticities] = {
    "bt709": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
    "bt2020": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),
    "p3-d65": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
}
"""CIE xy of the red, green and blue primaries; all three share the D65 white point."""

D65 = (0.3127, 0.3290)
"""CIE xy of the white point of BT.709, BT.2020 and Display P3."""

REFERENCE_WHITE_NITS = 203.0
"""HDR reference (diffuse) white, ITU-R BT.2408; it becomes SDR white (255)."""

PQ_MAX_NITS = 10000.0
"""The luminance of a PQ signal of 1.0."""

HLG_DISPLAY_PEAK_NITS = 1000.0
"""The nominal HLG display the OOTF renders for (BT.2100 reference)."""

HLG_SYSTEM_GAMMA = 1.2
"""The OOTF's system gamma at a 1000 nit display, BT.2100 Table 5."""

DEFAULT_PQ_PEAK_NITS = 1000.0
"""Assumed mastering peak of a PQ source without light-level metadata; most HDR10 is graded
to 1000 nits, and brighter values are rolled off to white anyway."""

# SMPTE ST 2084 constants.
_PQ_M1 = 2610 / 16384
_PQ_M2 = 2523 / 4096 * 128
_PQ_C1 = 3424 / 4096
_PQ_C2 = 2413 / 4096 * 32
_PQ_C3 = 2392 / 4096 * 32

# ARIB STD-B67 / BT.2100 HLG OETF constants.
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * math.log(4 * _HLG_A)

_GAMUT_KNEE = 0.9
"""Soft gamut clip: chroma up to this fraction of the distance to the BT.709 gamut edge stays
as it is; beyond it, it is compressed smoothly so that nothing crosses the edge."""

_EPS = 1e-6

_CODE_MAX = 65535
"""The largest 16-bit code value: the decode and sRGB tables have one entry per code."""

_GAIN_ENTRIES = 4096
"""Entries of the EETF gain table, spaced evenly in sqrt(nits / source peak)."""


def pq_eotf(signal: torch.Tensor) -> torch.Tensor:
    """Display light in nits of a PQ signal in 0..1 (SMPTE ST 2084 EOTF)."""
    p = signal.clamp(0, 1) ** (1 / _PQ_M2)
    return ((p - _PQ_C1).clamp(min=0) / (_PQ_C2 - _PQ_C3 * p)) ** (1 / _PQ_M1) * PQ_MAX_NITS


def pq_inverse_eotf(nits: torch.Tensor) -> torch.Tensor:
    """The PQ signal in 0..1 of a display light in nits; the EETF works on it."""
    y = (nits / PQ_MAX_NITS).clamp(0, 1) ** _PQ_M1
    return ((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)) ** _PQ_M2


def hlg_inverse_oetf(signal: torch.Tensor) -> torch.Tensor:
    """Scene light in 0..1 of an HLG signal in 0..1 (BT.2100 inverse OETF), per channel."""
    e = signal.clamp(0, 1)
    return torch.where(e <= 0.5, e * e / 3, (torch.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12)


def hlg_ootf(scene: torch.Tensor, primaries: str = "bt2020") -> torch.Tensor:
    """Display light in nits of HLG scene light on a 1000 nit display (BT.2100 OOTF).

    HLG is scene-referred; the OOTF, a gamma on the luminance that keeps the colour ratios,
    renders it for the display. Without it, HLG pictures look washed out.

    Args:
        scene: (..., 3, H, W) linear scene light in 0..1.
        primaries: a key of ``PRIMARIES``; the luminance uses its weights.
    """
    y = _luminance(scene, primaries).clamp(min=0)
    return HLG_DISPLAY_PEAK_NITS * y ** (HLG_SYSTEM_GAMMA - 1) * scene


def hlg_to_display(signal: torch.Tensor, primaries: str = "bt2020") -> torch.Tensor:
    """Display light in nits of an HLG signal on a 1000 nit display (BT.2100 EOTF, no black lift)."""
    return hlg_ootf(hlg_inverse_oetf(signal), primaries)


def bt2390_eetf(nits: torch.Tensor, source_peak: float, target_peak: float) -> torch.Tensor:
    """Roll off luminance from ``source_peak`` to ``target_peak`` nits (ITU-R BT.2390 EETF).

    Values below the knee pass unchanged; above it a Hermite spline in the perceptually uniform
    PQ domain bends the rest smoothly into the target, so highlights keep their gradation
    instead of clipping. Values above ``source_peak`` map to ``target_peak``.
    """
    if source_peak <= target_peak:
        return nits.clamp(0, target_peak)
    src = _pq_signal(source_peak)
    max_lum = _pq_signal(target_peak) / src
    knee = 1.5 * max_lum - 0.5
    e1 = (pq_inverse_eotf(nits) / src).clamp(max=1)
    t = (e1 - knee) / (1 - knee)
    t2, t3 = t * t, t * t * t
    spline = (2 * t3 - 3 * t2 + 1) * knee + (t3 - 2 * t2 + t) * (1 - knee) + (3 * t2 - 2 * t3) * max_lum
    return pq_eotf(torch.where(e1 < knee, e1, spline) * src)


def luma_weights(primaries: str) -> tuple[float, float, float]:
    """The luminance (Y) weights of R, G and B for a set of primaries with a D65 white."""
    weights = _rgb_to_xyz(PRIMARIES[primaries])[1]
    return float(weights[0]), float(weights[1]), float(weights[2])


def convert_primaries(rgb: torch.Tensor, src: str, dst: str = "bt709") -> torch.Tensor:
    """Linear (..., 3, H, W) light re-expressed in other primaries; may leave the 0..1 cube."""
    if src == dst:
        return rgb
    return torch.einsum("ij,...jhw->...ihw", _primaries_matrix(src, dst).to(rgb), rgb)


def soft_clip_gamut(rgb: torch.Tensor, primaries: str = "bt709") -> torch.Tensor:
    """Pull colours outside the gamut (a negative channel) back in, keeping hue and luminance.

    Each pixel's chroma is scaled towards its luminance Y. ``s = (Y - min(R, G, B)) / Y`` is 1
    on the gamut edge; up to ``_GAMUT_KNEE`` nothing changes, beyond it ``s`` is compressed with
    a Reinhard curve that approaches but never reaches 1, so saturated colours keep their order
    instead of all clipping to the same edge. With ``x = (s - knee) / (1 - knee)`` the curve is
    ``s - (1 - knee) x^2 / (1 + x)``, which needs no branch: x is 0 inside the knee.
    """
    y = _luminance(rgb, primaries).clamp_(min=0)
    s = (y - rgb.amin(dim=-3, keepdim=True)).div_(y + _EPS)
    x = (s - _GAMUT_KNEE).mul_(1 / (1 - _GAMUT_KNEE)).clamp_(min=0)
    shrink = (x * x).mul_(1 - _GAMUT_KNEE).div_((x + 1).mul_(s).add_(_EPS))
    return (rgb - y).mul_(1 - shrink).add_(y)


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """The sRGB (IEC 61966-2-1) encoding of linear light in 0..1: thumbnails are sRGB images."""
    x = linear.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def hdr_to_sdr(
    signal: torch.Tensor,
    transfer: Transfer,
    *,
    primaries: str = "bt2020",
    source_peak: float | None = None,
) -> torch.Tensor:
    """An HDR R'G'B' picture as BT.709 sRGB uint8, for filters, scoring and thumbnails.

    The per-channel curves (the PQ EOTF or HLG inverse OETF, the EETF's gain, the sRGB
    encoding) are read from lookup tables built once per device from the functions above:
    ``pow`` costs 5-10 times a table look-up on a CPU, and the input has 16 bits at most.

    Args:
        signal: (..., 3, H, W) non-linear R'G'B', uint16 code values as swscale's ``rgb48le``
            gives them or floats in 0..1; on any device.
        transfer: ``"pq"`` or ``"hlg"``.
        primaries: the source primaries, a key of ``PRIMARIES``; HDR is almost always BT.2020.
        source_peak: the brightest nits the source holds (from its MaxCLL or mastering display
            metadata); None assumes ``DEFAULT_PQ_PEAK_NITS``. HLG always peaks at 1000 nits.

    Returns:
        A (..., 3, H, W) uint8 tensor on the input's device.
    """
    if signal.dtype == torch.uint16:
        codes = signal.to(torch.int32)
    else:
        codes = (signal.float().clamp(0, 1) * _CODE_MAX).round_().to(torch.int32)
    linear = _lookup(_decode_table(transfer, signal.device), codes)
    if transfer == "hlg":
        nits = hlg_ootf(linear, primaries)
        peak = HLG_DISPLAY_PEAK_NITS
    else:
        nits = linear
        peak = max(source_peak or DEFAULT_PQ_PEAK_NITS, REFERENCE_WHITE_NITS)
    rgb = soft_clip_gamut(convert_primaries(nits, primaries, "bt709"), "bt709").clamp_(min=0)
    brightest = rgb.amax(dim=-3, keepdim=True)
    # The EETF's gain depends on max(R, G, B) smoothly; its table is indexed by the square root
    # to spend its entries where the eye sees differences. Nothing may end above white.
    index = (brightest / peak).clamp_(0, 1).sqrt_().mul_(_GAIN_ENTRIES - 1)
    gain = _lookup(_gain_table(peak, signal.device), index.round_().to(torch.int32))
    rgb.mul_(torch.minimum(gain, brightest.reciprocal()))
    return _lookup(_srgb_table(signal.device), rgb.clamp_(0, 1).mul_(_CODE_MAX).round_().to(torch.int32))


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` elementwise; ``index_select`` on a flat index is ~10x faster on a CPU."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


@functools.lru_cache(maxsize=8)
def _decode_table(transfer: Transfer, device: torch.device) -> torch.Tensor:
    """Linear light of every 16-bit code: PQ display nits, or HLG scene light."""
    codes = torch.arange(_CODE_MAX + 1, dtype=torch.float64) / _CODE_MAX
    table = pq_eotf(codes) if transfer == "pq" else hlg_inverse_oetf(codes)
    return table.to(device, torch.float32)


@functools.lru_cache(maxsize=8)
def _gain_table(source_peak: float, device: torch.device) -> torch.Tensor:
    """EETF(p) / p / reference white, for p = source_peak * (i / (entries - 1)) ** 2."""
    p = (torch.arange(_GAIN_ENTRIES, dtype=torch.float64) / (_GAIN_ENTRIES - 1)) ** 2 * source_peak
    p[0] = 1e-3  # the limit at 0: below the knee the EETF is the identity
    gain = bt2390_eetf(p, source_peak, REFERENCE_WHITE_NITS) / p / REFERENCE_WHITE_NITS
    return gain.to(device, torch.float32)


@functools.lru_cache(maxsize=8)
def _srgb_table(device: torch.device) -> torch.Tensor:
    """The 8-bit sRGB code of every 16-bit linear level."""
    codes = torch.arange(_CODE_MAX + 1, dtype=torch.float64) / _CODE_MAX
    return (srgb_encode(codes) * 255).round().to(device, torch.uint8)


def _pq_signal(nits: float) -> float:
    """``pq_inverse_eotf`` of one number, in Python floats (no device round trip)."""
    y = (min(max(nits, 0.0), PQ_MAX_NITS) / PQ_MAX_NITS) ** _PQ_M1
    return float(((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)) ** _PQ_M2)


def _luminance(rgb: torch.Tensor, primaries: str) -> torch.Tensor:
    """Y of linear (..., 3, H, W) light, as (..., 1, H, W)."""
    weights = torch.tensor(luma_weights(primaries), dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("c,...chw->...hw", weights, rgb).unsqueeze(-3)


@functools.cache
def _primaries_matrix(src: str, dst: str) -> torch.Tensor:
    """The 3x3 linear-light matrix from ``src`` to ``dst`` primaries, through XYZ."""
    return torch.linalg.solve(_rgb_to_xyz(PRIMARIES[dst]), _rgb_to_xyz(PRIMARIES[src]))


@functools.cache
def _rgb_to_xyz(chromaticities: Chromaticities) -> torch.Tensor:
    """The 3x3 RGB -> XYZ matrix of a set of primaries with a D65 white (SMPTE RP 177)."""
    xy = torch.tensor(chromaticities, dtype=torch.float64)
    columns = torch.stack([xy[:, 0] / xy[:, 1], torch.ones(3, dtype=torch.float64), (1 - xy.sum(1)) / xy[:, 1]])
    wx, wy = D65
    white = torch.tensor([wx / wy, 1.0, (1 - wx - wy) / wy], dtype=torch.float64)
    return columns * torch.linalg.solve(columns, white)
