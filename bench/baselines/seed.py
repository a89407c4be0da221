"""The blog post's "seed" thumbnail pipeline, reproduced step for step as the baseline.

Source: the tutorial in ``shared/seed`` (extract.py, sharpness.py, score.py, faces.py, pick.py).
Every cost it pays is kept, because those costs are what streamthumb exists to remove:

* PySceneDetect decodes the whole video in its own pass (OpenCV backend, ContentDetector 27).
* ``ffprobe`` reads the duration; then one ``ffmpeg -ss T -i video -frames:v 1`` process per
  candidate seeks to the keyframe before T, decodes up to T and writes a JPEG (``-q:v 2``).
* Each JPEG is read back from disk: gray for the Laplacian blur test (threshold 80), as PIL
  RGB through open_clip's own PIL transform, one CLIP call per image, and gray again for the
  Haar face test (min_size 80 px, on the full-size JPEG).
* Scores are max(positive) - mean(negative) similarity, +0.05 with a face, then top-k with a
  two-second gap.

Deliberate differences, all in the seed's favour or neutral: the model is built once by the
harness and passed in (the blog loads it inside ``pick_thumbnails``; we do not time the load),
the frames go to a temporary folder, and the device is the harness's.

Example:
    >>> picks = pick_thumbnails("clip.mp4", "/tmp/frames", SeedScorer(model, tokenizer, cfg, device), k=3)
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import torch

__all__ = ["NEG", "POS", "SeedScorer", "ffmpeg_missing", "pick_thumbnails"]

POS = [
    "a sharp, well-lit frame from a video, showing the main subject clearly",
]
NEG = [
    "a blurry frame",
    "a black frame",
    "a transition with text overlay or graphic",
    "a frame caught between two shots",
]


def ffmpeg_missing() -> str | None:
    """Why the seed cannot run here, or None when the ``ffmpeg``/``ffprobe`` CLIs are on PATH."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not on PATH; the seed baseline shells out to them (apt-get install ffmpeg)"


# -- extract.py --------------------------------------------------------------------------


def shot_boundaries(video_path: str) -> list[float]:
    """Return scene-cut timestamps (seconds) using PySceneDetect."""
    from scenedetect import ContentDetector, SceneManager, open_video

    vid = open_video(video_path)
    sm = SceneManager()
    sm.add_detector(ContentDetector(threshold=27.0))
    sm.detect_scenes(vid, show_progress=False)
    scenes = sm.get_scene_list()
    # The blog calls get_seconds(), deprecated since PySceneDetect 0.7 in favour of .seconds.
    return [s[0].seconds + 0.4 for s in scenes]


def uniform_samples(duration: float, every: float = 3.0) -> list[float]:
    return [t for t in [i * every for i in range(int(duration // every) + 1)] if t > 0]


def extract_frame(video_path: str, t: float, out_path: str) -> None:
    subprocess.run(
        ["ffmpeg", "-y", "-ss", f"{t:.3f}", "-i", video_path, "-frames:v", "1", "-q:v", "2", out_path],
        check=True,
        capture_output=True,
    )


def probe_duration(video_path: str) -> float:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nokey=1:noprint_wrappers=1",
            video_path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return float(out)


def build_candidates(video_path: str, out_dir: str) -> list[tuple[float, str]]:
    os.makedirs(out_dir, exist_ok=True)
    dur = probe_duration(video_path)
    times = sorted(set(shot_boundaries(video_path) + uniform_samples(dur)))
    out = []
    for i, t in enumerate(times):
        p = pathlib.Path(out_dir) / f"f_{i:04d}_{t:07.2f}.jpg"
        extract_frame(video_path, t, str(p))
        out.append((t, str(p)))
    return out


# -- sharpness.py ------------------------------------------------------------------------


def is_sharp(image_path: str, threshold: float = 80.0) -> bool:
    img = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return False
    return bool(cv2.Laplacian(img, cv2.CV_64F).var() > threshold)


# -- score.py ----------------------------------------------------------------------------


class SeedScorer:
    """The blog's ``Scorer``, given a built model instead of loading one.

    Args:
        model: An open_clip model in eval mode on ``device``.
        tokenizer: Its tokenizer.
        preprocess_cfg: ``open_clip.get_model_preprocess_cfg(model)``; turned into the same PIL
            transform ``create_model_and_transforms`` returns for inference.
        device: Where the model lives.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Callable[[Sequence[str]], torch.Tensor],
        preprocess_cfg: dict[str, Any],
        device: torch.device,
    ) -> None:
        from open_clip.transform import PreprocessCfg, image_transform_v2

        self.model = model
        self.device = device
        self.preprocess = image_transform_v2(PreprocessCfg(**preprocess_cfg), is_train=False)
        self.model.eval()
        with torch.no_grad():
            self.pos = self._embed_text(tokenizer(POS))
            self.neg = self._embed_text(tokenizer(NEG))

    def _embed_text(self, tokens: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            v = self.model.encode_text(tokens.to(self.device))
        return v / v.norm(dim=-1, keepdim=True)

    def score(self, image_path: str) -> float:
        from PIL import Image

        img = self.preprocess(Image.open(image_path).convert("RGB")).unsqueeze(0).to(self.device)
        with torch.no_grad():
            i = self.model.encode_image(img)
            i = i / i.norm(dim=-1, keepdim=True)
        pos_sim = (i @ self.pos.T).max().item()
        neg_sim = (i @ self.neg.T).mean().item()
        return float(pos_sim - neg_sim)


# -- faces.py ----------------------------------------------------------------------------

_cascade: Any = None


def has_visible_face(image_path: str, min_size: int = 80) -> bool:
    global _cascade
    if _cascade is None:  # the blog builds it at import; same cost, paid once
        _cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    img = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return False
    faces = _cascade.detectMultiScale(img, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    return len(faces) > 0


# -- pick.py -----------------------------------------------------------------------------


def pick_thumbnails(
    video_path: str, out_dir: str, scorer: SeedScorer, k: int = 3
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The blog's orchestration; also returns how many candidates and sharp frames it saw."""
    candidates = build_candidates(video_path, out_dir)
    counts = {"candidates": len(candidates)}
    candidates = [(t, p) for t, p in candidates if is_sharp(p)]
    counts["scored"] = len(candidates)
    rows: list[dict[str, Any]] = []
    for t, p in candidates:
        s = scorer.score(p)
        if has_visible_face(p):
            s += 0.05  # small bias toward faces
        rows.append({"t": t, "path": p, "score": s})
    rows.sort(key=lambda r: r["score"], reverse=True)
    # Diversity: don't pick frames that are within 2 seconds of each other.
    picked: list[dict[str, Any]] = []
    for r in rows:
        if any(abs(r["t"] - p["t"]) < 2.0 for p in picked):
            continue
        picked.append(r)
        if len(picked) >= k:
            break
    return picked, counts
