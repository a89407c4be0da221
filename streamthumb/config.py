"""One frozen configuration object, made of one frozen section per pipeline stage.

The defaults here are the source of truth; ``streamthumb/configs/default.yaml`` mirrors them (a
test keeps the two equal) and ships in the package beside the ``fast`` and ``quality`` presets,
so a pip-installed user can print one (``streamthumb config fast``), copy it and edit. Unknown
keys and bad values fail loudly with the key's dotted name, because a typo that silently falls
back to a default is a tuning session lost.

Example:
    >>> from streamthumb import Config
    >>> cfg = Config.from_yaml("fast").with_overrides({"select.k": 5})
    >>> cfg.select.k
    5
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError

__all__ = [
    "CandidatesConfig",
    "Config",
    "BlurConfig",
    "ContrastConfig",
    "DecodeConfig",
    "ExposureConfig",
    "FacesConfig",
    "FiltersConfig",
    "GraphicConfig",
    "NoiseConfig",
    "OutputConfig",
    "QualityConfig",
    "RuntimeConfig",
    "ScoringConfig",
    "SelectConfig",
    "SharpnessConfig",
    "ShotsConfig",
    "TransitionConfig",
    "preset_names",
    "preset_text",
]

DEFAULT_POSITIVE = ("a sharp, well-lit frame from a video, showing the main subject clearly",)
DEFAULT_NEGATIVE = (
    "a blurry frame",
    "a black frame",
    "a transition with text overlay or graphic",
    "a frame caught between two shots",
)


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"config: {key} {message}")


@dataclass(frozen=True)
class DecodeConfig:
    """How frames are decoded."""

    threads: int = 0
    """Decoder threads; 0 lets FFmpeg pick one per core."""
    sampling: Literal["all", "keyframes"] = "all"
    """``all`` decodes every frame (exact cuts); ``keyframes`` decodes only keyframes (fast)."""
    tone_map: Literal["auto", "off"] = "auto"
    """``auto`` tone-maps PQ and HLG (HDR) sources to BT.709 SDR before filtering, scoring and
    writing, so an HDR video does not give grey, flat thumbnails; ``off`` keeps the raw signal."""
    start: float = 0.0
    """Seconds: frames before this time are decoded but not considered (a trim's start)."""
    max_duration: float | None = None
    """Seconds into the video at which reading stops, then the picks come from what was seen
    (live and endless streams; a trim's end); null reads to the end."""
    timeout: float = 30.0
    """Seconds a URL may take to connect, and then to send more data, before the run fails."""

    def __post_init__(self) -> None:
        _check(self.threads >= 0, "decode.threads", "must be >= 0")
        _check(self.start >= 0, "decode.start", "must be >= 0")
        later = self.max_duration is None or self.max_duration > self.start
        _check(later, "decode.max_duration", "must be > decode.start, or null")
        _check(self.timeout > 0, "decode.timeout", "must be > 0")


@dataclass(frozen=True)
class ShotsConfig:
    """Shot-cut detection, run on small frames from the same decode pass."""

    detector: Literal["content", "adaptive"] = "content"
    """PySceneDetect detector: ``content`` (ContentDetector) or ``adaptive`` (AdaptiveDetector)."""
    threshold: float = 27.0
    """ContentDetector threshold on the frame-to-frame content change."""
    adaptive_threshold: float = 3.0
    """AdaptiveDetector ratio of a frame's change to its neighbours' average."""
    min_scene_len: int = 15
    """Minimum shot length in frames; shorter flashes merge into the previous shot."""
    analysis_width: int = 256
    """Frames are downscaled to at least this width for detection, as PySceneDetect does."""

    def __post_init__(self) -> None:
        _check(self.threshold > 0, "shots.threshold", "must be > 0")
        _check(self.adaptive_threshold > 0, "shots.adaptive_threshold", "must be > 0")
        _check(self.min_scene_len >= 0, "shots.min_scene_len", "must be >= 0")
        _check(self.analysis_width >= 16, "shots.analysis_width", "must be >= 16")


@dataclass(frozen=True)
class CandidatesConfig:
    """Which frames become candidates."""

    shot_offset: float = 0.4
    """Seconds after a cut to sample, skipping the cut frame itself; kept inside the shot."""
    every: float = 3.0
    """Seconds between uniform samples; 0 disables uniform sampling."""
    dedupe_gap: float = 1.0
    """A uniform sample this close to an earlier candidate of the same shot is skipped."""
    analysis_size: int = 360
    """Candidates are filtered, scored and searched for faces at this shorter side, so one
    threshold fits 480p, 720p and 1080p alike."""
    per_pick: int = 3
    """When the video's length is known, sample at least this many candidates per requested
    pick (``every`` shrinks for short videos); 0 keeps ``every`` as it is."""
    trim_borders: bool = True
    """Find black bars (letterbox, pillarbox) on each candidate and leave them out: the
    filters, faces and scorer judge the picture inside, and the thumbnail is that picture."""
    border_luma: float = 32.0
    """A bar's pixels are no brighter than this (0-255 RGB, any channel)."""
    min_border: float = 0.02
    """Bars thinner than this fraction of the frame's side are left in place."""

    def __post_init__(self) -> None:
        _check(self.shot_offset >= 0, "candidates.shot_offset", "must be >= 0")
        _check(0 <= self.border_luma < 255, "candidates.border_luma", "must be in [0, 255)")
        _check(0 < self.min_border < 0.5, "candidates.min_border", "must be a fraction in (0, 0.5)")
        _check(self.every >= 0, "candidates.every", "must be >= 0")
        _check(self.dedupe_gap >= 0, "candidates.dedupe_gap", "must be >= 0")
        _check(self.analysis_size >= 32, "candidates.analysis_size", "must be >= 32")
        _check(self.per_pick >= 0, "candidates.per_pick", "must be >= 0")


@dataclass(frozen=True)
class SharpnessConfig:
    """The blur filter: the variance of the Laplacian."""

    min_sharpness: float = 40.0
    """Minimum variance of the Laplacian (0-255 gray at ``candidates.analysis_size``)."""

    def __post_init__(self) -> None:
        _check(self.min_sharpness >= 0, "filters.sharpness.min_sharpness", "must be >= 0")


@dataclass(frozen=True)
class ExposureConfig:
    """The exposure filter: mean luma."""

    min_brightness: float = 20.0
    """Minimum mean luma (0-255); darker frames are treated as black."""
    max_brightness: float = 240.0
    """Maximum mean luma (0-255); brighter frames are treated as blown out."""

    def __post_init__(self) -> None:
        _check(
            0 <= self.min_brightness < self.max_brightness <= 255,
            "filters.exposure.min_brightness/max_brightness",
            "must satisfy 0 <= min < max <= 255",
        )


@dataclass(frozen=True)
class BlurConfig:
    """The blur filter that sees direction: the re-blur "blur effect" per axis."""

    max_blur: float = 0.6
    """Highest blur effect (0 sharp .. 1 flat) allowed along either axis; sharp footage
    measures 0.2-0.45, defocus and motion blur 0.6-0.9."""
    soft_ratio: float = 0.5
    """A candidate whose Laplacian variance is below this share of the sharpest candidate of
    its shot is rejected as ``soft`` when the picks are chosen: the sharp frame wins."""

    def __post_init__(self) -> None:
        _check(0 < self.max_blur <= 1, "filters.blur.max_blur", "must be in (0, 1]")
        _check(0 <= self.soft_ratio < 1, "filters.blur.soft_ratio", "must be in [0, 1)")


@dataclass(frozen=True)
class ContrastConfig:
    """The contrast filter: washed-out, foggy and flat frames, from luma percentiles."""

    min_range: float = 45.0
    """Lowest luma range (2nd to 98th percentile, 0-255) of any frame."""
    washed_range: float = 90.0
    """A frame brighter than ``washed_luma`` needs at least this range, or it is washed out."""
    washed_luma: float = 150.0
    """Mean luma above which a low range reads as milky rather than moody."""

    def __post_init__(self) -> None:
        ok = 0 <= self.min_range <= self.washed_range <= 255
        _check(ok, "filters.contrast", "needs 0 <= min_range <= washed_range <= 255")


@dataclass(frozen=True)
class NoiseConfig:
    """The noise filter: detail survives a 2x downscale, noise and TV static do not."""

    min_ratio: float = 0.6
    """Lowest Laplacian variance at half size over that at full size; photos measure 1.5-7,
    white noise 0.25."""

    def __post_init__(self) -> None:
        _check(self.min_ratio >= 0, "filters.noise.min_ratio", "must be >= 0")


@dataclass(frozen=True)
class GraphicConfig:
    """The graphics filter: slates, cards, credits, bars are mostly perfectly flat colour."""

    max_flat: float = 0.85
    """Highest share of pixels with no luma gradient at all; camera footage stays well under,
    text on a flat ground and test patterns lie above 0.9."""

    def __post_init__(self) -> None:
        _check(0 < self.max_flat <= 1, "filters.graphic.max_flat", "must be in (0, 1]")


@dataclass(frozen=True)
class TransitionConfig:
    """The transition filter: dissolves, fades and the frames beside a cut, from the shot
    detector's per-frame numbers (no second pass)."""

    max_dip: float = 0.85
    """A frame whose luma spread falls below this share of its shot's spread on both sides is
    inside a dissolve."""
    max_slope: float = 0.12
    """A frame whose luma spread changes by more than this share within a fifth of a second
    each way, with no cut, is inside a dissolve."""
    max_fade: float = 0.8
    """A frame on a ramp to or from black with less than this share of its window's spread
    is inside a fade."""
    min_cut_gap: float = 0.1
    """Seconds a candidate keeps from a cut."""

    def __post_init__(self) -> None:
        _check(0 < self.max_dip <= 1, "filters.transition.max_dip", "must be in (0, 1]")
        _check(self.max_slope > 0, "filters.transition.max_slope", "must be > 0")
        _check(0 < self.max_fade <= 1, "filters.transition.max_fade", "must be in (0, 1]")
        _check(self.min_cut_gap >= 0, "filters.transition.min_cut_gap", "must be >= 0")


@dataclass(frozen=True)
class FiltersConfig:
    """The structural filters run on every candidate before the scorer; one section each."""

    enabled: tuple[str, ...] = ("sharpness", "blur", "exposure", "contrast", "noise", "graphic", "transition")
    """Filters to run, in order; each name is a section below."""
    sharpness: SharpnessConfig = field(default_factory=SharpnessConfig)
    blur: BlurConfig = field(default_factory=BlurConfig)
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    contrast: ContrastConfig = field(default_factory=ContrastConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    graphic: GraphicConfig = field(default_factory=GraphicConfig)
    transition: TransitionConfig = field(default_factory=TransitionConfig)

    def __post_init__(self) -> None:
        known = [f.name for f in dataclasses.fields(self) if f.name != "enabled"]
        unknown = [name for name in self.enabled if name not in known]
        _check(not unknown, "filters.enabled", f"has unknown filter {unknown[:1]}; filters are {', '.join(known)}")


@dataclass(frozen=True)
class ScoringConfig:
    """The OpenCLIP model and the prompts it scores against."""

    model: str = "ViT-B-32"
    """open_clip model name, or ``hf-hub:org/repo``, or ``local-dir:/path``, or ``none``: rank by
    the structural quality terms alone, with no model and no weights."""
    pretrained: str = "laion2b_s34b_b79k"
    """open_clip pretrained tag or a checkpoint file; ignored for hf-hub:/local-dir: models."""
    positive: tuple[str, ...] = DEFAULT_POSITIVE
    """Prompts a good thumbnail resembles; the best match counts."""
    negative: tuple[str, ...] = DEFAULT_NEGATIVE
    """Prompts a bad thumbnail resembles; the mean similarity is subtracted."""
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    """``auto`` is bf16/fp16 autocast on CUDA and fp32 elsewhere."""
    cache_dir: str | None = None
    """Where downloaded weights live; None uses open_clip's default (the Hugging Face cache)."""
    encoder_cache: bool = True
    """A one-video pick on a CPU keeps the traced image tower and the prompts' embeddings in the
    ``encoders`` folder of ``$STREAMTHUMB_CACHE_DIR``, ``$XDG_CACHE_HOME/streamthumb`` or
    ``~/.cache/streamthumb``, so the next one starts without open_clip; it takes the image
    tower's size on disk (350 MB for ViT-B-32)."""

    def __post_init__(self) -> None:
        _check(bool(self.model.strip()), "scoring.model", "must not be empty")
        _check(len(self.positive) > 0, "scoring.positive", "needs at least one prompt")


@dataclass(frozen=True)
class QualityConfig:
    """Weights of the structural quality terms added to every scored candidate.

    Each term is 0 (poor) to 1 (good). With CLIP they nudge its score (whose spread is about
    0.1) towards sharper, better exposed frames; with ``scoring.model: none`` they are the
    whole ranking.
    """

    sharpness: float = 0.01
    """Variance of the Laplacian, log-scaled (3000 and up count fully)."""
    crispness: float = 0.01
    """1 - the worse axis's blur effect."""
    exposure: float = 0.01
    """Mean luma close to mid-grey."""
    contrast: float = 0.01
    """Luma range (2nd to 98th percentile) over 200."""
    colour: float = 0.01
    """Colourfulness (Hasler and Suesstrunk) over 100."""
    centre: float = 0.01
    """Detail in the central third of the frame relative to the whole: a subject in frame."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(getattr(self, f.name) >= 0, f"quality.{f.name}", "must be >= 0")


@dataclass(frozen=True)
class FacesConfig:
    """The face bonus."""

    enabled: bool = True
    """Run face detection at all."""
    detector: Literal["haar"] = "haar"
    """Face detector; ``haar`` is OpenCV's Haar cascades (frontal alt2, and profile when ``profile``)."""
    bonus: float = 0.05
    """The most a face adds to the score: reached by a face of ``full_size`` or larger."""
    min_size: float = 0.07
    """Smallest face counted, as a fraction of the frame's shorter side."""
    full_size: float = 0.25
    """Face height, as a fraction of the frame's shorter side, that earns the whole bonus;
    smaller faces earn a share in proportion."""
    profile: bool = True
    """Also search turned faces (OpenCV's profile cascade, both directions)."""
    edge_penalty: float = 0.03
    """Taken off for the largest face when the frame edge cuts it in half."""
    closed_eyes_penalty: float = 0.03
    """Taken off when the largest face is frontal and big enough to check, and no open eye is
    found in it (the seed's "mid-blink")."""

    def __post_init__(self) -> None:
        _check(0 < self.min_size < 1, "faces.min_size", "must be a fraction in (0, 1)")
        _check(self.min_size <= self.full_size <= 1, "faces.full_size", "must be in [min_size, 1]")
        _check(self.bonus >= 0, "faces.bonus", "must be >= 0")
        _check(self.edge_penalty >= 0, "faces.edge_penalty", "must be >= 0")
        _check(self.closed_eyes_penalty >= 0, "faces.closed_eyes_penalty", "must be >= 0")


@dataclass(frozen=True)
class SelectConfig:
    """Top-K selection and its diversity rules."""

    k: int = 3
    """Number of thumbnails to pick."""
    min_gap: float = 2.0
    """Picks are at least this many seconds apart."""
    one_per_shot: bool = True
    """At most one pick per shot while the video has at least ``k`` shots."""
    fill: bool = True
    """Try hard to give ``k`` picks: when one-per-shot leaves fewer, take second frames of good
    shots (still ``min_gap`` apart); in a video shorter than ``(k + 1) * min_gap``, keep picks
    ``duration / (k + 1)`` apart instead, but never closer than 1 s."""
    pool_size: int = 0
    """Candidates (with their frames) kept while streaming; 0 means ``4 * k``."""
    diversity: float = 0.1
    """Maximal marginal relevance: each next pick maximises ``score - diversity * (highest
    cosine similarity of its embedding to the picks so far)``; 0 ranks by score alone."""
    max_similarity: float = 0.97
    """A candidate whose embedding is at least this similar to a pick's is a duplicate of it
    and never picked, even from another shot."""

    def __post_init__(self) -> None:
        _check(self.k >= 1, "select.k", "must be >= 1")
        _check(self.diversity >= 0, "select.diversity", "must be >= 0")
        _check(0 < self.max_similarity <= 1, "select.max_similarity", "must be in (0, 1]")
        _check(self.min_gap >= 0, "select.min_gap", "must be >= 0")
        _check(self.pool_size == 0 or self.pool_size >= self.k, "select.pool_size", "must be 0 or >= k")

    @property
    def capacity(self) -> int:
        """Frames the streaming pool may hold."""
        return self.pool_size or 4 * self.k


@dataclass(frozen=True)
class OutputConfig:
    """How thumbnails are written."""

    format: Literal["jpeg", "png", "webp"] = "jpeg"
    """Image format."""
    quality: int = 90
    """JPEG/WebP quality, 1-100."""
    crop: tuple[str, ...] | None = None
    """Aspect ratios to crop to, such as ``16:9``, ``1:1`` or ``9:16``: one, several separated by
    commas (``16:9,1:1,9:16``), or a list (quote each in YAML: unquoted, ``16:9`` is a number).
    Each pick is written once per ratio, named by it; null (or empty) writes the whole frame instead."""

    def __post_init__(self) -> None:
        _check(1 <= self.quality <= 100, "output.quality", "must be in 1..100")
        if self.crop is not None:
            object.__setattr__(self, "crop", self._parse_crop(self.crop))  # "16:9,1:1" -> ("16:9", "1:1")

    @staticmethod
    def _parse_crop(crop: str | tuple[str, ...] | list[str]) -> tuple[str, ...] | None:
        """Each ratio of a string, comma-separated string or list, checked and written ``w:h``.

        Raises:
            ConfigError: a ratio is malformed or listed twice; the message names it.
        """
        raw = [crop] if isinstance(crop, str) else crop
        _check(isinstance(raw, (list, tuple)), "output.crop", f"must be a ratio or a list of them, got {raw!r}")
        shown = ",".join(map(str, raw))  # as typed, for the messages
        parts = [p.strip() for item in raw if str(item).strip() for p in str(item).split(",")]  # "" = no crop
        ratios: list[str] = []
        for part in parts:
            w, colon, h = part.partition(":")
            ok = colon == ":" and all(n.isascii() and n.isdigit() and int(n) > 0 for n in (w, h))
            where = "" if part == shown else f" in {shown!r}"
            _check(ok, "output.crop", f"must look like 16:9, got {part!r}{where}")
            ratio = f"{int(w)}:{int(h)}"
            _check(ratio not in ratios, "output.crop", f"lists {ratio} twice in {shown!r}")
            ratios.append(ratio)
        return tuple(ratios) or None

    @property
    def crop_ratios(self) -> tuple[tuple[int, int], ...]:
        """Each crop as (width, height) units, in the order asked; empty when none is."""
        return tuple((int(w), int(h)) for w, _, h in (r.partition(":") for r in self.crop or ()))


@dataclass(frozen=True)
class RuntimeConfig:
    """Where and in what batches the models run."""

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """``auto`` picks CUDA, then MPS, then CPU."""
    batch_size: int = 16
    """Candidates per micro-batch for the sharpness filter, CLIP and faces."""
    queue_size: int = 32
    """Candidate frames waiting between decode and scoring; bounds memory."""

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "runtime.batch_size", "must be >= 1")
        _check(self.queue_size >= 1, "runtime.queue_size", "must be >= 1")


@dataclass(frozen=True)
class Config:
    """Every tunable of the pipeline, one section per stage."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    shots: ShotsConfig = field(default_factory=ShotsConfig)
    candidates: CandidatesConfig = field(default_factory=CandidatesConfig)
    filters: FiltersConfig = field(default_factory=FiltersConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build a config from nested mappings; missing keys keep their defaults.

        Raises:
            ConfigError: on an unknown key or a value of the wrong type or range.
        """
        return _build(cls, data, "")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Config:
        """Load a YAML file, or a preset shipped in the package by name (``fast``).

        Raises:
            ConfigError: when the file is missing, is not YAML, or holds a bad key or value.
        """
        try:
            text = preset_text(str(path)) if str(path) in preset_names() else Path(path).read_text(encoding="utf-8")
            data = yaml.safe_load(text) or {}
        except OSError as exc:
            presets = ", ".join(preset_names())
            raise ConfigError(f"config: cannot read {path}: {exc.strerror or exc} (presets: {presets})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config: {path} is not valid YAML: {_one_line(exc)}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"config: {path} must hold a mapping of sections")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, lists instead of tuples, ready for YAML or JSON."""
        return _plain(dataclasses.asdict(self))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """Return a copy with dotted keys (``"select.k"``, ``"filters.sharpness.min_sharpness"``) replaced.

        Raises:
            ConfigError: on an unknown key or a bad value.
        """
        data = self.to_dict()
        for dotted, value in overrides.items():
            *path, key = dotted.split(".")
            node = data
            for depth, part in enumerate(path):
                if not isinstance(node.get(part), dict):
                    known = ", ".join(k for k, v in node.items() if isinstance(v, dict))
                    where = ".".join(path[:depth]) or "sections"
                    raise ConfigError(f"config: unknown key {dotted!r}; {where}: {known}")
                node = node[part]
            if not path or key not in node or isinstance(node[key], dict):
                known = ", ".join(k for k, v in node.items() if not isinstance(v, dict) or not path)
                raise ConfigError(f"config: unknown key {dotted!r}; {'.'.join(path) or 'top level'} has {known}")
            node[key] = value
        return Config.from_dict(data)


def preset_names() -> list[str]:
    """The configs shipped in the package: ``default`` (every key, commented), ``fast``, ``quality``."""
    folder = importlib.resources.files(__package__) / "configs"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The YAML text of a shipped preset, comments included.

    Raises:
        ConfigError: there is no preset of that name.
    """
    if name not in preset_names():
        raise ConfigError(f"config: no preset {name!r}; presets are {', '.join(preset_names())}")
    return (importlib.resources.files(__package__) / "configs" / f"{name}.yaml").read_text(encoding="utf-8")


def _one_line(exc: Exception) -> str:
    """PyYAML's messages span lines (problem, context, a caret drawing); keep problem and place."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else " ".join(str(exc).split())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: {prefix.rstrip('.') or 'top level'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(f"config: unknown key {prefix + unknown[0]!r} in {where}; expected one of {', '.join(names)}")
    kwargs = {}
    for name, raw in data.items():
        hint = hints[name]
        key = f"{prefix}{name}"
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, raw if raw is not None else {}, key + ".")
        else:
            kwargs[name] = _coerce(hint, raw, key)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: {prefix.rstrip('.')}: {exc}") from exc


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against a field's annotation, converting only lossless cases."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key)
    if origin is Literal:
        _check(value in args, key, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        hint = " (quote it: YAML reads an unquoted 16:9 as the number 969)" if isinstance(value, int) else ""
        _check(isinstance(items, (list, tuple)), key, f"must be a list, got {value!r}{hint}")
        return tuple(_coerce(args[0], v, key) for v in items)
    if hint is bool:
        _check(isinstance(value, bool), key, f"must be true or false, got {value!r}")
        return value
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        _check(ok, key, f"must be an integer, got {value!r}")
        return value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        _check(ok, key, f"must be a number, got {value!r}")
        return float(value)
    if hint is str:
        _check(isinstance(value, str), key, f"must be a string, got {value!r}")
        return value
    raise ConfigError(f"config: {key} has an unsupported type {hint!r}")  # pragma: no cover
