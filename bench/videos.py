"""Deterministic benchmark videos, generated once into ``bench/.cache/``.

Synthetic clips only measure something real if decoding them costs what real footage costs, so
each shot is a textured scene (smooth colour fields, hard edges and fine high-frequency detail)
that pans or zooms, carries a moving object and fresh film grain on every frame, and is encoded
with x264 with CABAC, B-frames and the deblocking filter on (``veryfast``), as real uploads are.
Cuts come every 1.5 to 9 seconds; a few shots are out of focus or nearly black so the blur and
exposure filters have work to do. The same spec always yields the same file, byte for byte on
the same PyAV build, and a changed generator gets a new file name (``GENERATOR``).

Example:
    >>> path = ensure_video(VideoSpec(1280, 720, 60))   # generated on first use, then cached
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

__all__ = ["CACHE_DIR", "FULL", "MEMORY", "QUICK", "VideoSpec", "ensure_video", "is_cached", "plan_shots"]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
"""Where generated videos live; git-ignored."""
GENERATOR = "v1"
"""Bumped whenever the pixels change, so stale cache files are never reused."""
_GRAIN_FRAMES = 7
"""Distinct grain patterns cycled over frames; a prime, so no two neighbouring frames match."""
_MARGIN = 1.3
"""The scene texture is this much larger than the frame, leaving room to pan and zoom."""


@dataclass(frozen=True)
class VideoSpec:
    """One benchmark video: size, length and the seed of its shot plan."""

    width: int
    height: int
    seconds: int
    fps: int = 30
    seed: int = 0
    preset: str = "veryfast"
    """x264 preset: fast to generate on two cores, yet with the decode cost of real uploads."""
    crf: int = 23
    grain: int = 22
    """Grain spans +-grain grey levels. x264's rate jumps steeply near 20, so this is tuned per
    size to typical upload bitrates: 22 gives about 1.6 Mbit/s at 480p and 4 at 720p, and 19
    about 6 at 1080p."""

    @property
    def name(self) -> str:
        """Short label used in reports and the cache file name."""
        return f"{self.height}p-{self.seconds}s"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.fps}fps-s{self.seed}-{self.preset}-crf{self.crf}-g{self.grain}-{GENERATOR}.mp4"


QUICK = (VideoSpec(1280, 720, 60),)
"""``--quick``: one 1-minute 720p video, under three minutes for the whole run on two cores."""
FULL = (VideoSpec(854, 480, 120), VideoSpec(1280, 720, 300), VideoSpec(1920, 1080, 120, grain=19))
"""The default set: 480p, the 5-minute 720p target video, and 1080p."""
MEMORY = (VideoSpec(854, 480, 60), VideoSpec(854, 480, 600))
"""Same resolution, 1 and 10 minutes: streamthumb's peak RSS should not grow with length."""


@dataclass(frozen=True)
class ShotPlan:
    """How one shot looks and moves."""

    frames: int
    kind: str
    """``pan``, ``zoom``, ``blur`` (out of focus) or ``dark`` (nearly black)."""
    seed: int


def plan_shots(spec: VideoSpec) -> list[ShotPlan]:
    """Cut the video into shots of 1.5 to 9 seconds; about one in eight is blurred or dark."""
    rng = np.random.default_rng(spec.seed)
    total = spec.seconds * spec.fps
    shots: list[ShotPlan] = []
    done = 0
    while done < total:
        frames = min(total - done, int(rng.uniform(1.5, 9.0) * spec.fps))
        roll = rng.random()
        kind = "blur" if roll < 0.08 else "dark" if roll < 0.12 else "zoom" if roll < 0.4 else "pan"
        shots.append(ShotPlan(frames, kind, int(rng.integers(2**31))))
        done += frames
    return shots


def is_cached(spec: VideoSpec, cache_dir: Path = CACHE_DIR) -> bool:
    """Whether ``ensure_video`` will return at once rather than spend minutes encoding."""
    return (cache_dir / spec.filename).is_file()


def ensure_video(spec: VideoSpec, cache_dir: Path = CACHE_DIR) -> Path:
    """Return the cached video for ``spec``, generating it first if needed.

    The file is written under a temporary name and renamed, so an interrupted run never
    leaves a truncated video in the cache.
    """
    path = cache_dir / spec.filename
    if path.is_file():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial-{os.getpid()}.mp4")
    try:
        _encode(spec, partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _encode(spec: VideoSpec, path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.options = {"preset": spec.preset, "crf": str(spec.crf)}
        stream.codec_context.thread_type = "AUTO"
        for image in _frames(spec):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _frames(spec: VideoSpec) -> Iterator[np.ndarray]:
    grain = _grain(spec)
    index = 0
    for shot in plan_shots(spec):
        for image in _shot_frames(spec, shot):
            if shot.kind not in ("blur", "dark"):
                plus, minus = grain[index % _GRAIN_FRAMES], grain[(index + 3) % _GRAIN_FRAMES]
                image = cv2.subtract(cv2.add(image, plus), minus)  # zero-mean grain, saturating
            index += 1
            yield image


def _grain(spec: VideoSpec) -> list[np.ndarray]:
    """Precomputed sensor-like noise: fresh per frame to the encoder, cheap to apply."""
    rng = np.random.default_rng(spec.seed + 1)
    shape = (spec.height, spec.width, 3)
    return [rng.integers(0, spec.grain, size=shape, dtype=np.uint8) for _ in range(_GRAIN_FRAMES)]


def _shot_frames(spec: VideoSpec, shot: ShotPlan) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(shot.seed)
    width, height = spec.width, spec.height
    scene = _scene(rng, int(width * _MARGIN), int(height * _MARGIN))
    if shot.kind == "blur":
        scene = cv2.GaussianBlur(scene, (0, 0), sigmaX=height / 60)
    elif shot.kind == "dark":
        scene = cv2.convertScaleAbs(scene, alpha=0.05)
    free_x, free_y = scene.shape[1] - width, scene.shape[0] - height
    start = rng.uniform(0, 1, size=2) * (free_x, free_y)
    end = rng.uniform(0, 1, size=2) * (free_x, free_y)
    ball = _Ball(rng, width, height)
    for i in range(shot.frames):
        a = i / max(1, shot.frames - 1)
        x, y = (start + (end - start) * a).astype(int)
        if shot.kind == "zoom":
            image = _zoomed(scene, width, height, 1.0 + 0.25 * a)
        else:
            image = scene[y : y + height, x : x + width].copy()
        if shot.kind != "dark":
            ball.draw(image, i)
        yield image


def _zoomed(scene: np.ndarray, width: int, height: int, zoom: float) -> np.ndarray:
    """A centred window ``zoom`` times smaller than the scene's margin, scaled up to the frame."""
    win_w = min(scene.shape[1], round(width * _MARGIN / zoom))
    win_h = min(scene.shape[0], round(height * _MARGIN / zoom))
    x0 = (scene.shape[1] - win_w) // 2
    y0 = (scene.shape[0] - win_h) // 2
    return cv2.resize(scene[y0 : y0 + win_h, x0 : x0 + win_w], (width, height), interpolation=cv2.INTER_LINEAR)


class _Ball:
    """A bright object crossing the frame: local motion that the encoder must track."""

    def __init__(self, rng: np.random.Generator, width: int, height: int):
        self._pos = rng.uniform(0.1, 0.9, size=2) * (width, height)
        self._vel = rng.uniform(-1, 1, size=2) * height / 90
        self._radius = int(height * rng.uniform(0.04, 0.1))
        self._colour = tuple(int(c) for c in rng.integers(40, 255, size=3))
        self._size = (width, height)

    def draw(self, image: np.ndarray, i: int) -> None:
        x, y = (self._pos + self._vel * i) % self._size
        cv2.circle(image, (int(x), int(y)), self._radius, self._colour, thickness=-1, lineType=cv2.LINE_AA)


def _scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth colour field, fine multi-octave texture and hard-edged shapes."""
    base = cv2.resize(
        rng.uniform(30, 225, size=(4, 6, 3)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )
    detail = np.zeros((height, width), np.float32)
    for octave, amplitude in ((8, 28.0), (32, 16.0), (128, 9.0)):  # foliage-like texture is costly to code
        cells = rng.normal(0, amplitude, size=(max(2, height * octave // width), octave)).astype(np.float32)
        detail += cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(base + detail[:, :, None], 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 16))):
        _shape(rng, image)
    return image


def _shape(rng: np.random.Generator, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    x, y = int(rng.integers(width)), int(rng.integers(height))
    size = int(rng.integers(height // 20, height // 4))
    if rng.random() < 0.5:
        cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, thickness=-1)
    else:
        end = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.line(image, (x, y), end, colour, thickness=max(2, size // 12), lineType=cv2.LINE_AA)
