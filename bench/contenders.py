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

import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .models import ModelSpec

if TYPE_CHECKING:
    import torch

    from .models import LoadedModel

__all__ = ["CONTENDERS", "Task", "run"]

SWEEP_BATCHES = (1, 8, 16, 32, 64, 128, 256)
"""Encoder batch sizes tried by the sweep."""
SWEEP_PRECISIONS = {"cuda": ("fp32", "bf16", "fp16"), "cpu": ("fp32", "bf16")}
"""Precisions swept per device type; CPU autocast has no useful fp16."""


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


class _Clock:
    """Wall and CPU seconds of a timed region.

    CPU seconds (user + system, this process and the children it reaped, such as the seed's
    ffmpeg calls) barely move when other jobs share the machine, so they back up wall times
    that do; the 1-minute load average at the end says how busy the machine was.
    """

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()

    def stop(self) -> dict[str, float]:
        return {
            "wall_s": time.perf_counter() - self._wall,
            "cpu_s": _cpu_seconds() - self._cpu,
            "load_1m": os.getloadavg()[0],
        }


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# -- decode floor: no torch, no model, nothing but the decoder --------------------------


def decode_floor(task: Task) -> dict[str, Any]:
    """Decode every frame with streamthumb's decoder settings and drop it.

    The floor for any pipeline that looks at every frame: same FFmpeg threading as
    ``streamthumb.decode.VideoReader`` (``thread_type`` AUTO, one thread per core), no colour
    conversion, no Python work per frame beyond the iterator. With ``hwaccel`` the frames are
    decoded on that device and downloaded to system memory, as a CPU-side consumer needs them.
    """
    clock = _Clock()
    with _open(task.video, task.hwaccel) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = 0
        frames = sum(1 for _ in container.decode(stream))
    return {**clock.stop(), "frames": frames, "hwaccel": task.hwaccel}


def _open(path: str, hwaccel: str | None) -> Any:
    """Open with PyAV (>= 14.1 for ``hwaccel``); no silent software fallback, or the floor would lie."""
    import av

    if hwaccel is None:
        return av.open(path)
    from av.codec.hwaccel import HWAccel, hwdevices_available

    if hwaccel not in hwdevices_available():
        raise RuntimeError(f"this FFmpeg build has no {hwaccel!r} hwaccel (it has: {', '.join(hwdevices_available())})")
    try:
        return av.open(path, hwaccel=HWAccel(device_type=hwaccel, allow_software_fallback=False))
    except (av.FFmpegError, OSError) as exc:
        raise RuntimeError(f"cannot open a {hwaccel} hardware decoder ({exc}); is a {hwaccel} device present?") from exc


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
    clock = _Clock()
    result = streamthumb.pick(task.video, config, scorer=scorer)
    _sync(loaded.device)
    timed = clock.stop()
    stats = result.stats
    return {
        **timed,
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

    Images are already at the model's input size and on its device, so no decode, resize or
    copy is timed; the batch size and precision are streamthumb's defaults, so this is the least
    time streamthumb's CLIP stage could take for the candidates it had.
    """
    import torch

    from streamthumb import Config

    loaded = _loaded(task)
    scorer = loaded.scorer()
    batch = Config().runtime.batch_size
    generator = torch.Generator().manual_seed(0)
    shape = (task.images, 3, *_input_size(loaded))
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(loaded.device)
    clock = _Clock()
    for first in range(0, task.images, batch):
        scorer.embed(images[first : first + batch])
    _sync(loaded.device)
    return {**clock.stop(), "images": task.images, "batch_size": batch, **_gpu_peak(loaded.device)}


def seed(task: Task) -> dict[str, Any]:
    """The blog's pipeline (``baselines/seed.py``), skipped with a note without the ffmpeg CLI."""
    from .baselines.seed import SeedScorer, ffmpeg_missing, pick_thumbnails

    missing = ffmpeg_missing()
    if missing:
        return {"skipped": missing}
    loaded = _loaded(task)
    scorer = SeedScorer(loaded.model, loaded.tokenizer, loaded.preprocess_cfg, loaded.device)
    with tempfile.TemporaryDirectory(prefix="seed-frames-") as out_dir:
        clock = _Clock()
        _, counts = pick_thumbnails(task.video, out_dir, scorer, k=3)
        _sync(loaded.device)
        timed = clock.stop()
    return {**timed, **counts, **_gpu_peak(loaded.device)}


def encoder_sweep(task: Task) -> dict[str, Any]:
    """Images/s of the image encoder per precision and batch size, to pick ``runtime.batch_size``.

    Each point is the best of a few passes after a warm-up pass at its shape; a batch that does
    not fit in GPU memory is reported as such and the sweep goes on.
    """
    loaded = _loaded(task)
    precisions = SWEEP_PRECISIONS.get(loaded.device.type, ("fp32",))
    rows = [_sweep_point(loaded, p, batch) for p in precisions for batch in task.batches]
    return {"wall_s": sum(r.get("wall_s", 0.0) for r in rows), "sweep": rows, "gpu": _gpu_name(loaded.device)}


def _sweep_point(loaded: LoadedModel, precision: str, batch: int, passes: int = 3) -> dict[str, Any]:
    import torch

    scorer = loaded.scorer(precision=precision)
    images = torch.randint(0, 256, (batch, 3, *_input_size(loaded)), dtype=torch.uint8, device=loaded.device)
    if loaded.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(loaded.device)
    try:
        scorer.embed(images)
        times = []
        for _ in range(passes):
            _sync(loaded.device)
            clock = _Clock()
            scorer.embed(images)
            _sync(loaded.device)
            times.append(clock.stop()["wall_s"])
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"precision": precision, "batch": batch, "error": "out of memory"}
    best = min(times)
    return {
        "precision": precision,
        "batch": batch,
        "wall_s": best,
        "images_per_s": batch / best,
        **_gpu_peak(loaded.device),
    }


def _gpu_name(device: torch.device) -> str | None:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


# -- whole-process contenders: what a user waits for, interpreter start and imports included -----


def cold_pick(task: Task) -> dict[str, Any]:
    """``streamthumb pick --sampling keyframes`` as a fresh process: a user's one-clip wait.

    Random weights go to it as a saved checkpoint (``saved_random``), loaded the product's way.
    Two processes share an empty encoder cache: the first fills it (``first_wall_s``, what a
    user waits the first time), the second reads it (``wall_s``, every time after).
    """
    import os
    import sys

    from .models import saved_random
    from .videos import CACHE_DIR

    if task.model is None:
        raise ValueError("cold_pick needs a model")
    model = task.model.name
    if task.model.random_weights:
        model = f"local-dir:{saved_random(model, CACHE_DIR / 'models')}"
    extra = ["--pretrained", task.model.pretrained] if task.model.pretrained else []
    with tempfile.TemporaryDirectory(prefix="cold-pick-") as out:
        argv = [sys.executable, "-m", "streamthumb", "pick", task.video, "--sampling", "keyframes", "--quiet"]
        argv += ["--model", model, *extra, "--device", task.device, "--out", out]
        env = {**os.environ, "STREAMTHUMB_CACHE_DIR": os.path.join(out, "cache")}
        first = _timed_process(argv, sys.executable, env=env)
        if "wall_s" not in first:
            return first
        return {**_timed_process(argv, sys.executable, env=env), "first_wall_s": first["wall_s"]}


def ffmpeg_thumbnail(task: Task) -> dict[str, Any]:
    """FFmpeg's ``thumbnail`` filter (one representative frame per 100), as a user runs it."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="ffmpeg-thumb-") as out:
        argv = ["ffmpeg", "-v", "error", "-i", task.video, "-vf", "thumbnail", "-frames:v", "1", f"{out}/t.jpg"]
        return _timed_process(argv, shutil.which("ffmpeg"), "the ffmpeg CLI (apt-get install ffmpeg)")


def ffmpegthumbnailer(task: Task) -> dict[str, Any]:
    """ffmpegthumbnailer's one thumbnail (it seeks to 10 % and skips dark and flat frames)."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="ffmpegthumbnailer-") as out:
        argv = ["ffmpegthumbnailer", "-i", task.video, "-o", f"{out}/t.jpg", "-s", "0"]
        return _timed_process(argv, shutil.which("ffmpegthumbnailer"), "ffmpegthumbnailer (apt-get install it)")


def _timed_process(
    argv: list[str], found: str | None, missing: str = "", env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Wall and CPU seconds of one whole process; skipped with a note when it is not installed."""
    import subprocess

    if found is None:
        return {"skipped": f"needs {missing}"}
    clock = _Clock()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    timed = clock.stop()
    if done.returncode != 0:
        return {"error": f"{' '.join(argv[:3])}... exited {done.returncode}: {done.stderr.strip()[-500:]}"}
    return {**timed, "whole_process": True}


CONTENDERS: dict[str, Callable[[Task], dict[str, Any]]] = {
    "decode_floor": decode_floor,
    "streamthumb": streamthumb_default,
    "keyframes": streamthumb_keyframes,
    "encode_floor": encode_floor,
    "seed": seed,
    "encoder_sweep": encoder_sweep,
    "cold_pick": cold_pick,
    "ffmpeg_thumbnail": ffmpeg_thumbnail,
    "ffmpegthumbnailer": ffmpegthumbnailer,
}
"""Contender names, as used in the JSON report."""
