"""What each contender does, run inside a fresh worker process (see ``worker.py``).

Every contender times only its own work: interpreter start, imports and building the model are
paid before the clock starts, by all of them alike, so the numbers compare pipelines rather
than start-up costs. Models are warmed with one forward pass for the same reason (CUDA context,
cuBLAS handles and oneDNN kernels are created on first use).

Example:
    >>> result = run(Task("decode_floor", "clip.mp4"))
    >>> result["wall_s"], result["frames"]
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .models import ModelSpec

if TYPE_CHECKING:
    import torch

    from .models import LoadedModel

__all__ = ["CONTENDERS", "Task", "run"]

SWEEP_BATCHES = (1, 8, 16, 32, 64, 128, 256)
"""Encoder batch sizes tried on CUDA."""
SWEEP_DTYPES = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Task:
    """One contender on one video, as sent to a worker process (JSON round-trippable)."""

    contender: str
    video: str = ""
    model: ModelSpec | None = None
    device: str = "cpu"
    images: int = 0
    """Encode floor: how many candidate images to encode."""
    hwaccel: str | None = None
    """Decode floor: a PyAV hardware device type such as ``cuda``; None decodes on the CPU."""
    batches: tuple[int, ...] = field(default=SWEEP_BATCHES)
    """Encoder sweep: batch sizes to try."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        model = ModelSpec(**data["model"]) if data.get("model") else None
        return cls(**{**data, "model": model, "batches": tuple(data.get("batches", SWEEP_BATCHES))})


def run(task: Task) -> dict[str, Any]:
    """Run one contender; the result always has ``wall_s`` unless it has ``skipped``."""
    return CONTENDERS[task.contender](task)


# -- decode floor: no torch, no model, nothing but the decoder --------------------------


def decode_floor(task: Task) -> dict[str, Any]:
    """Decode every frame with streamthumb's decoder settings and drop it.

    The floor for any pipeline that looks at every frame: same FFmpeg threading as
    ``streamthumb.decode.VideoReader`` (``thread_type`` AUTO, one thread per core), no colour
    conversion, no Python work per frame beyond the iterator.
    """
    import av

    start = time.perf_counter()
    with av.open(task.video, **_hwaccel_kwargs(task.hwaccel)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = 0
        frames = sum(1 for _ in container.decode(stream))
    return {"wall_s": time.perf_counter() - start, "frames": frames, "hwaccel": task.hwaccel}


def _hwaccel_kwargs(device_type: str | None) -> dict[str, Any]:
    """PyAV >= 14.1 hardware decode; no silent software fallback, or the floor would lie."""
    if device_type is None:
        return {}
    from av.codec.hwaccel import HWAccel, hwdevices_available

    if device_type not in hwdevices_available():
        raise RuntimeError(f"this FFmpeg build has no {device_type!r} hwaccel (has: {', '.join(hwdevices_available())})")
    return {"hwaccel": HWAccel(device_type=device_type, allow_software_fallback=False)}


# -- contenders that need the model -----------------------------------------------------


def _loaded(task: Task) -> LoadedModel:
    import torch

    from .models import load_model

    if task.model is None:
        raise ValueError(f"{task.contender} needs a model")
    loaded = load_model(task.model, torch.device(task.device))
    _warm(loaded)
    return loaded


def _warm(loaded: LoadedModel) -> None:
    """One fp32 and one autocast forward pass, so no contender pays first-call set-up."""
    import torch

    size = _input_size(loaded)
    with torch.inference_mode():
        loaded.model.encode_image(torch.zeros((1, 3, *size), device=loaded.device))
    loaded.scorer().embed(torch.zeros((2, 3, *size), dtype=torch.uint8))
    _sync(loaded.device)
    if loaded.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(loaded.device)


def _input_size(loaded: LoadedModel) -> tuple[int, int]:
    size = loaded.preprocess_cfg.get("size", 224)
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _gpu_peak(device: torch.device) -> dict[str, Any]:
    import torch

    if device.type != "cuda":
        return {}
    return {"peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20}


def streamthumb_default(task: Task) -> dict[str, Any]:
    """``streamthumb.pick`` with ``Config()`` and the shared scorer."""
    from streamthumb import Config

    return _pick(task, Config())


def streamthumb_keyframes(task: Task) -> dict[str, Any]:
    """Keyframe mode: only keyframes are decoded, and each one is a candidate."""
    from streamthumb import Config

    return _pick(task, Config().with_overrides({"decode.sampling": "keyframes"}))


def _pick(task: Task, config: Any) -> dict[str, Any]:
    import streamthumb

    loaded = _loaded(task)
    scorer = loaded.scorer()
    start = time.perf_counter()
    result = streamthumb.pick(task.video, config, scorer=scorer)
    _sync(loaded.device)
    wall = time.perf_counter() - start
    stats = result.stats
    return {
        "wall_s": wall,
        "frames": stats.frames_decoded,
        "candidates": stats.candidates,
        "scored": stats.scored,
        "shots": len(result.shots),
        "timings": dict(stats.timings),
        "stats": stats.to_dict(),
        **_gpu_peak(loaded.device),
    }


def encode_floor(task: Task) -> dict[str, Any]:
    """The model alone on ``task.images`` ready-made images in full batches.

    Images are already at the model's input size and in memory, so no decode, resize or copy
    is timed; the batch size and precision are streamthumb's defaults, so this is the least
    time streamthumb's CLIP stage could take for the candidates it had.
    """
    import torch

    from streamthumb import Config

    loaded = _loaded(task)
    scorer = loaded.scorer()
    batch = Config().runtime.batch_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (task.images, 3, *_input_size(loaded)), dtype=torch.uint8, generator=generator)
    start = time.perf_counter()
    for first in range(0, task.images, batch):
        scorer.embed(images[first : first + batch])
    _sync(loaded.device)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "images": task.images, "batch_size": batch, **_gpu_peak(loaded.device)}


def seed(task: Task) -> dict[str, Any]:
    """The blog's pipeline (``baselines/seed.py``), skipped with a note without the ffmpeg CLI."""
    from .baselines.seed import SeedScorer, ffmpeg_missing, pick_thumbnails

    missing = ffmpeg_missing()
    if missing:
        return {"skipped": missing}
    loaded = _loaded(task)
    scorer = SeedScorer(loaded.model, loaded.tokenizer, loaded.preprocess_cfg, loaded.device)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seed-frames-") as out_dir:
        _, counts = pick_thumbnails(task.video, out_dir, scorer, k=3)
        _sync(loaded.device)
        wall = time.perf_counter() - start
    return {"wall_s": wall, **counts, **_gpu_peak(loaded.device)}


def encoder_sweep(task: Task) -> dict[str, Any]:
    """Images/s of the image encoder per batch size and precision (CUDA only)."""
    import torch

    loaded = _loaded(task)
    if loaded.device.type != "cuda":
        return {"skipped": "the encoder sweep runs on CUDA only"}
    rows = [_sweep_point(loaded, dtype, batch) for dtype in SWEEP_DTYPES for batch in task.batches]
    return {"wall_s": sum(r.get("wall_s", 0.0) for r in rows), "sweep": rows, "gpu": torch.cuda.get_device_name(loaded.device)}


def _sweep_point(loaded: LoadedModel, dtype: str, batch: int) -> dict[str, Any]:
    """Best of a few timed passes after a warm-up pass at this shape."""
    import torch

    scorer = loaded.scorer(precision=dtype)
    images = torch.randint(0, 256, (batch, 3, *_input_size(loaded)), dtype=torch.uint8, device=loaded.device)
    torch.cuda.reset_peak_memory_stats(loaded.device)
    try:
        scorer.embed(images)
        times = []
        for _ in range(5):
            _sync(loaded.device)
            start = time.perf_counter()
            scorer.embed(images)
            _sync(loaded.device)
            times.append(time.perf_counter() - start)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"precision": dtype, "batch": batch, "error": "out of memory"}
    best = min(times)
    return {"precision": dtype, "batch": batch, "wall_s": best, "images_per_s": batch / best, **_gpu_peak(loaded.device)}


CONTENDERS: dict[str, Callable[[Task], dict[str, Any]]] = {
    "decode_floor": decode_floor,
    "streamthumb": streamthumb_default,
    "keyframes": streamthumb_keyframes,
    "encode_floor": encode_floor,
    "seed": seed,
    "encoder_sweep": encoder_sweep,
}
"""Contender names, as used in the JSON report."""
