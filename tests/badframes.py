"""Bad frames with known ground truth, generated at test time: what the structural filters must catch.

Each maker yields (H, W, 3) uint8 RGB frames for ``n`` frames. ``write_clips`` encodes a list of
(kind, frames) clips into one video and returns each clip's time span, so a test can assert
that no pick ever lands inside a bad one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from synthetic import Segment, frames_for, photo

Frames = Iterator[np.ndarray]


def good(name: str, n: int, w: int, h: int, seed: int = 0) -> Frames:
    """A sharp photo with a slow pan: the kind of frame a thumbnail should be."""
    seconds = n / 25.0
    yield from frames_for(Segment(name, seconds), w, h, 25.0, np.random.default_rng(seed))


def motion_blur(name: str, n: int, w: int, h: int, axis: str) -> Frames:
    """A fast pan: a line kernel a twentieth of the frame long, along ``axis`` (x or y)."""
    length = max(5, (w if axis == "x" else h) // 20) | 1
    kernel = np.zeros((length, length), np.float32)
    if axis == "x":
        kernel[length // 2, :] = 1.0 / length
    else:
        kernel[:, length // 2] = 1.0 / length
    for img in good(name, n, w, h):
        yield cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def defocus(name: str, n: int, w: int, h: int) -> Frames:
    for img in good(name, n, w, h):
        yield cv2.GaussianBlur(img, (0, 0), sigmaX=w / 110)


def washed_out(name: str, n: int, w: int, h: int) -> Frames:
    """A flat, milky grade: mean luma near 196, well inside the 20-240 exposure range."""
    for img in good(name, n, w, h):
        yield (img.astype(np.float32) * 0.3 + 160).clip(0, 255).astype(np.uint8)


def black(n: int, w: int, h: int) -> Frames:
    rng = np.random.default_rng(1)
    for _ in range(n):
        yield rng.integers(0, 6, size=(h, w, 3), dtype=np.uint8)


def static(n: int, w: int, h: int) -> Frames:
    """TV static: fresh noise every frame; its Laplacian variance beats any photo's."""
    rng = np.random.default_rng(2)
    for _ in range(n):
        gray = rng.integers(0, 256, size=(h, w, 1), dtype=np.uint8)
        yield np.repeat(gray, 3, axis=2)


def colour_bars(n: int, w: int, h: int) -> Frames:
    """SMPTE-style bars: seven flat colours over a strip of darker ones."""
    colours = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    img = np.zeros((h, w, 3), np.uint8)
    for i, c in enumerate(colours):
        img[: h * 3 // 4, i * w // 7 : (i + 1) * w // 7] = c
    img[h * 3 // 4 :, : w // 2] = (0, 33, 76)
    img[h * 3 // 4 :, w // 2 :] = (16, 16, 16)
    for _ in range(n):
        yield img.copy()


def _text(img: np.ndarray, lines: Sequence[str], y0: int, colour: tuple[int, int, int], scale: float) -> np.ndarray:
    h, w = img.shape[:2]
    for i, line in enumerate(lines):
        size = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)[0]
        y = y0 + int(i * size[1] * 2.2)
        if -size[1] < y < h + size[1]:
            cv2.putText(img, line, ((w - size[0]) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 2, cv2.LINE_AA)
    return img


def slate(n: int, w: int, h: int) -> Frames:
    """A title slate: white text on black."""
    lines = ["PRODUCTION 47", "SCENE 12   TAKE 3", "CAMERA A", "29 NOV 2026"]
    img = _text(np.full((h, w, 3), 8, np.uint8), lines, h // 4, (235, 235, 235), w / 500)
    for _ in range(n):
        yield img.copy()


def end_card(n: int, w: int, h: int) -> Frames:
    """A channel end card: flat colour, a red button, white text."""
    img = np.full((h, w, 3), (36, 52, 110), np.uint8)
    cv2.rectangle(img, (w // 3, h // 2), (2 * w // 3, h // 2 + h // 6), (220, 30, 30), -1)
    _text(img, ["SUBSCRIBE"], h // 2 + h // 9, (255, 255, 255), w / 520)
    _text(img, ["Thanks for watching!"], h // 4, (255, 255, 255), w / 480)
    for _ in range(n):
        yield img.copy()


def credits(n: int, w: int, h: int) -> Frames:
    """Rolling credits: names scrolling up on black."""
    names = [
        f"{role} ..... {name}"
        for role, name in zip(
            ["Director", "Camera", "Editor", "Sound", "Music", "Grip"] * 3,
            ["A. Ng", "B. Okafor", "C. Silva", "D. Kim", "E. Rossi", "F. Haddad"] * 3,
            strict=True,
        )
    ]
    for i in range(n):
        yield _text(np.zeros((h, w, 3), np.uint8), names, h - i * h // 40, (230, 230, 230), w / 700)


def fade_out(name: str, n: int, w: int, h: int) -> Frames:
    """The photo fading to black (a shot of its own: the pan starts afresh)."""
    for i, img in enumerate(good(name, n, w, h)):
        yield (img.astype(np.float32) * (1 - (i + 1) / (n + 1))).astype(np.uint8)


def dissolve(a: str, b: str, n: int, w: int, h: int) -> Frames:
    """A cross-fade from photo ``a`` to photo ``b``: no cut for ContentDetector to find."""
    for i, (x, y) in enumerate(zip(good(a, n, w, h), good(b, n, w, h, seed=1), strict=True)):
        alpha = (i + 1) / (n + 1)
        yield (x.astype(np.float32) * (1 - alpha) + y.astype(np.float32) * alpha).astype(np.uint8)


def edited(a: str, b: str | None, seconds: tuple[float, float, float], fps: int = 25) -> list[Clip]:
    """Shot ``a``, a transition, then shot ``b``, as an editor makes them: the pans run on
    through the transition, so there is no cut at either end of it. ``b=None`` is a fade to
    black; otherwise a dissolve."""
    n_a, n_t, n_b = (max(1, round(s * fps)) for s in seconds)
    cache: dict[tuple[int, int], tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def frames(w: int, h: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if (w, h) not in cache:
            first = list(good(a, n_a + n_t, w, h))
            second = list(good(b, n_t + n_b, w, h, seed=1)) if b else [np.zeros_like(first[0])] * (n_t + n_b)
            cache[w, h] = first, second
        return cache[w, h]

    def mixed(n: int, w: int, h: int) -> Frames:
        x, y = frames(w, h)
        for i in range(n):
            alpha = (i + 1) / (n + 1)
            yield (x[n_a + i].astype(np.float32) * (1 - alpha) + y[i].astype(np.float32) * alpha).astype(np.uint8)

    kind = "dissolve" if b else "fade"
    clips = [Clip("good", n_a / fps, lambda n, w, h: iter(frames(w, h)[0][:n])), Clip(kind, n_t / fps, mixed)]
    if b:
        clips.append(Clip("good", n_b / fps, lambda n, w, h: iter(frames(w, h)[1][n_t : n_t + n])))
    return clips


@dataclass(frozen=True)
class Clip:
    kind: str
    """``good`` or the bad kind's name."""
    seconds: float
    make: Callable[[int, int, int], Frames]
    """(n, w, h) -> frames."""


def write_clips(
    path: Path, clips: Sequence[Clip], *, size: tuple[int, int] = (640, 360), fps: int = 25
) -> list[tuple[str, float, float]]:
    """Encode the clips back to back; return (kind, start, end) per clip, in seconds."""
    w, h = size
    spans, t = [], 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        for clip in clips:
            n = max(1, round(clip.seconds * fps))
            spans.append((clip.kind, t / fps, (t + n) / fps))
            for img in clip.make(n, w, h):
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                    container.mux(packet)
                t += 1
        for packet in stream.encode():
            container.mux(packet)
    return spans


def photo_frame(name: str, w: int = 640, h: int = 360) -> np.ndarray:
    """One still of a photo at (w, h)."""
    return np.ascontiguousarray(photo(name, w, h, zoom=1.0)[:h, :w])
