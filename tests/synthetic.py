"""Videos and models generated at test time, so the repository carries no binaries.

Each segment is a distinct real photo (scikit-image ships them; ``astronaut`` has a face) with
a slow pan for motion, so consecutive segments are real shot cuts. ``blur`` segments are the
same photos through a strong Gaussian blur, ``black`` segments are near-black noise.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from skimage import data

PHOTOS = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "brick": lambda: np.dstack([data.brick()] * 3),
    "camera": lambda: np.dstack([data.camera()] * 3),
}


@dataclass(frozen=True)
class Segment:
    photo: str
    seconds: float
    kind: str = "sharp"  # sharp | blur | black


def photo(name: str, width: int, height: int, zoom: float = 1.15) -> np.ndarray:
    """The photo resized to cover (width*zoom, height*zoom), so a pan window fits inside."""
    img = np.ascontiguousarray(PHOTOS[name]()[:, :, :3])
    scale = max(width * zoom / img.shape[1], height * zoom / img.shape[0])
    size = (int(np.ceil(img.shape[1] * scale)), int(np.ceil(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def frames_for(seg: Segment, width: int, height: int, fps: float, rng: np.random.Generator):
    n = max(1, round(seg.seconds * fps))
    if seg.kind == "black":
        for _ in range(n):
            yield rng.integers(0, 6, size=(height, width, 3), dtype=np.uint8)
        return
    base = photo(seg.photo, width, height)
    if seg.kind == "blur":
        base = cv2.GaussianBlur(base, (0, 0), sigmaX=max(3.0, width / 80))
    max_dx, max_dy = base.shape[1] - width, base.shape[0] - height
    for i in range(n):
        dx = min(max_dx, i * max_dx // max(1, n))
        dy = min(max_dy, i * max_dy // max(1, 2 * n))
        yield np.ascontiguousarray(base[dy : dy + height, dx : dx + width])


def write_video(
    path: Path,
    segments: list[Segment],
    *,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    seed: int = 0,
) -> list[float]:
    """Encode the segments; return the cut times (segment starts after the first)."""
    width, height = size
    rng = np.random.default_rng(seed)
    cuts, t = [], 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "20"}
        for k, seg in enumerate(segments):
            if k:
                cuts.append(t / fps)
            for img in frames_for(seg, width, height, fps, rng):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
                t += 1
        for packet in stream.encode():
            container.mux(packet)
    return cuts


def rotate_mp4(src: Path, dst: Path, degrees_clockwise: int = 90) -> None:
    """Copy an MP4 and set its display matrix, as a phone does for portrait video."""
    data_ = bytearray(src.read_bytes())
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    matrices = {
        90: struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000),
        270: struct.pack(">9i", 0, -0x10000, 0, 0x10000, 0, 0, 0, 0, 0x40000000),
    }
    at = data_.find(identity, data_.find(b"tkhd"))
    assert at > 0, "no track header matrix found"
    data_[at : at + 36] = matrices[degrees_clockwise]
    dst.write_bytes(bytes(data_))


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A tiny OpenCLIP model saved the way open_clip's ``local-dir:`` loader expects it."""
    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**TINY_CLIP)
    save_file(model.state_dict(), str(folder / "open_clip_model.safetensors"))
    config = {
        "model_cfg": TINY_CLIP,
        "preprocess_cfg": {
            "mean": list(open_clip.OPENAI_DATASET_MEAN),
            "std": list(open_clip.OPENAI_DATASET_STD),
            "interpolation": "bicubic",
            "resize_mode": "shortest",
        },
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return folder
