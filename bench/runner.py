"""Run every contender on every video, each in a fresh process, and assemble the report.

Example:
    >>> report = run_benchmark(BenchOptions(specs=QUICK))
    >>> report["seed_speedup"], report["efficiency"]
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .contenders import Task
from .models import ModelSpec, default_model
from .report import TARGETS, add_rates, geomean, ratios
from .videos import FULL, VideoSpec, ensure_video, is_cached

__all__ = ["BenchOptions", "run_benchmark", "spawn"]

ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the ``bench`` package, put on the workers' ``PYTHONPATH``."""
_POLL_S = 0.02


@dataclass(frozen=True)
class BenchOptions:
    """What to run; the defaults are the full benchmark of issue 3."""

    specs: tuple[VideoSpec, ...] = FULL
    """Generated videos to run on (cached in ``bench/.cache``)."""
    files: tuple[Path, ...] = ()
    """The user's own videos; when given, ``specs`` is ignored."""
    model: str | None = None
    """open_clip architecture (random init) or hf-hub:/local-dir:; None picks by device."""
    pretrained: str | None = None
    """Real weights for an architecture name (a tag or a checkpoint file)."""
    device: str = "auto"
    contenders: tuple[str, ...] = (
        "decode_floor",
        "streamthumb",
        "encode_floor",
        "keyframes",
        "seed",
        "cold_pick",
        "ffmpeg_thumbnail",
        "ffmpegthumbnailer",
    )
    repeat: int = 1
    """Runs per contender; the fastest counts (noise on a shared machine only adds time)."""
    memory: tuple[VideoSpec, VideoSpec] | None = None
    """A short and a long video of one size for the peak-RSS-versus-length check."""
    hwaccel: str | None = None
    """Also time the decode floor with this PyAV hardware device type (``cuda``, ``vaapi``...)."""
    sweep: bool | None = None
    """Sweep encoder batch sizes and precisions; None means on CUDA only."""
    timeout_s: float = 3600.0
    """Per worker process."""
    isolate: bool = True
    """One fresh process per contender. False runs them in this process, for debuggers and
    profilers; peak RSS is then omitted, since it would be the whole run's."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Recorded verbatim in the report (the command line, for instance)."""


def run_benchmark(options: BenchOptions, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark and return the JSON-ready report.

    Contender failures do not stop the run: they are recorded under ``error`` (or ``skipped``)
    and the ratios that need them become None.

    Raises:
        FileNotFoundError: a video in ``options.files`` does not exist.
        ValueError: the device is not available.
    """
    say = log or _stderr
    load_start = os.getloadavg()[0]
    device = _resolve_device(options.device)
    model = ModelSpec(options.model or default_model(_torch_device(device)), options.pretrained)
    if model.random_weights:
        say(f"NOTE: {model.name} with RANDOM-INIT weights: timings are real, picks are meaningless")
    videos = [_run_video(name, path, options, model, device, say) for name, path in _video_paths(options, say)]
    memory = _memory(options, model, device, say) if options.memory else None
    sweep = _sweep(options, model, device, say)
    return {
        "schema": "streamthumb-bench/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**_machine(device), "load_1m": {"start": load_start, "end": os.getloadavg()[0]}},
        "streamthumb": _revision(),
        "device": device,
        "model": model.to_dict(),
        "videos": videos,
        **{key: geomean(v["ratios"][key] for v in videos) for key in TARGETS},
        "targets": TARGETS,
        "memory": memory,
        "encoder_sweep": sweep,
        **options.extra,
    }


# -- videos -------------------------------------------------------------------------------


def _video_paths(options: BenchOptions, say: Callable[[str], None]) -> list[tuple[str, Path]]:
    """(name, path) of each video: the user's files, else the generated set."""
    if options.files:
        return [(Path(f).name, Path(f)) for f in options.files]
    return [(spec.name, _generated(spec, say)) for spec in options.specs]


def _generated(spec: VideoSpec, say: Callable[[str], None]) -> Path:
    if not is_cached(spec):
        say(f"generating {spec.name} ({spec.width}x{spec.height}, {spec.seconds} s) once into bench/.cache ...")
    return ensure_video(spec)


def _probe(path: Path) -> dict[str, Any]:
    """What the container says; the frame count is replaced by the decode floor's exact count."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        rate = stream.average_rate or stream.guessed_rate
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(rate) if rate else None,
            "duration": duration,
            "frames": stream.frames or None,
            "codec": stream.codec_context.name,
            "bitrate_mbps": path.stat().st_size * 8 / duration / 1e6 if duration else None,
        }


def _warm_page_cache(path: Path) -> None:
    """Read the file once so the first contender does not pay the disk for the others."""
    with path.open("rb") as f:
        while f.read(1 << 23):
            pass


def _run_video(
    name: str, path: Path, options: BenchOptions, model: ModelSpec, device: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """Every contender on one video, ``repeat`` rounds, keeping each contender's fastest run.

    Rounds go through all contenders in turn, so a burst of load from another job inflates one
    run of several contenders rather than every run of one.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    info = _probe(path)
    _warm_page_cache(path)
    runs: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(max(1, options.repeat)):
        for label, contender, hwaccel in _plan(options):
            images = _candidates(runs) if contender == "encode_floor" else 0
            task = Task(contender, str(path), None if hwaccel else model, device, images=images, hwaccel=hwaccel)
            result = _run(task, options)
            runs.setdefault(label, []).append(result)
            say(f"{name} {label}{f' (round {round_ + 1})' if options.repeat > 1 else ''}: {_state(result)}")
    frames = _best(runs.get("decode_floor", [])).get("frames") or info["frames"]
    info["frames"] = frames
    contenders = {label: add_rates(_best(results), frames, info["duration"]) for label, results in runs.items()}
    video = {"name": name, "path": str(path), **info, "contenders": contenders, "ratios": ratios(contenders, device)}
    if options.repeat > 1:
        video["rounds"] = _round_ratios(runs, device)
    return video


def _round_ratios(runs: dict[str, list[dict[str, Any]]], device: str) -> list[dict[str, Any]]:
    """The ratios of each round on its own: its contenders ran minutes apart at most, so how
    much these move is how much the fastest-run ratios can be trusted."""
    count = max(len(results) for results in runs.values())
    return [
        ratios({label: results[i] for label, results in runs.items() if i < len(results)}, device) for i in range(count)
    ]


def _plan(options: BenchOptions) -> list[tuple[str, str, str | None]]:
    """(report key, contender, hwaccel) for one round; the encode floor runs after streamthumb,
    whose candidate count it needs."""
    order = sorted(options.contenders, key=lambda c: c == "encode_floor" and "streamthumb" in options.contenders)
    plan: list[tuple[str, str, str | None]] = []
    for contender in order:
        plan.append((contender, contender, None))
        if contender == "decode_floor" and options.hwaccel:
            plan.append(("decode_floor_hwaccel", contender, options.hwaccel))
    return plan


def _candidates(runs: dict[str, list[dict[str, Any]]]) -> int:
    """The encode floor encodes as many images as streamthumb had candidates (0: not known yet)."""
    return next((int(r["candidates"]) for r in runs.get("streamthumb", []) if r.get("candidates")), 0)


def _run(task: Task, options: BenchOptions) -> dict[str, Any]:
    if task.contender == "encode_floor" and not task.images:
        return {"skipped": "needs the candidate count of a successful streamthumb run"}
    return spawn(task, options.timeout_s) if options.isolate else _in_process(task)


def _best(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest timed run (noise only ever adds time), with every run's wall time beside it."""
    timed = [r for r in results if "wall_s" in r]
    if not timed:
        return results[-1] if results else {}
    best = min(timed, key=lambda r: r["wall_s"])
    return {**best, "runs_s": [r["wall_s"] for r in timed]} if len(timed) > 1 else best


def _once(task: Task, options: BenchOptions, say: Callable[[str], None], label: str) -> dict[str, Any]:
    """One run, for checks where repeating buys nothing (peak RSS) or is built in (the sweep)."""
    result = _run(task, options)
    say(f"{label}: {_state(result)}")
    return result


def _state(result: dict[str, Any]) -> str:
    if "wall_s" in result:
        return f"{result['wall_s']:.2f} s"
    return str(result.get("skipped") or result.get("error", "failed")).splitlines()[0]


# -- worker processes ---------------------------------------------------------------------


def spawn(task: Task, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Run one task in a fresh ``python -m bench.worker`` and return its result.

    ``peak_rss_mb`` is the worker's high-water mark from ``os.wait4``: the larger of its own and
    any child's (the seed's ffmpeg calls), not their sum.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        task_path, result_path, log_path = (Path(tmp) / n for n in ("task.json", "result.json", "worker.log"))
        task_path.write_text(json.dumps(task.to_dict()))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", str(task_path), str(result_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
            code, maxrss_kb = _wait(proc, timeout_s)
        if result_path.is_file():
            result: dict[str, Any] = json.loads(result_path.read_text())
        else:
            tail = log_path.read_text(errors="replace")[-2000:]
            result = {"error": f"worker exited with {code} and no result:\n{tail}"}
    result["peak_rss_mb"] = maxrss_kb / 1024
    return result


def _in_process(task: Task) -> dict[str, Any]:
    from .contenders import run

    try:
        return run(task)
    except Exception as exc:  # same contract as a worker: the error is the result
        return {"error": f"{type(exc).__name__}: {exc}"}


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, int]:
    """Reap the worker with ``os.wait4`` (its rusage is the per-contender peak RSS)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it has been reaped
            return proc.returncode, usage.ru_maxrss
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss
        time.sleep(_POLL_S)


# -- extras: memory scaling and the GPU encoder sweep -------------------------------------


def _memory(options: BenchOptions, model: ModelSpec, device: str, say: Callable[[str], None]) -> dict[str, Any]:
    """streamthumb's peak RSS on a short and a long video of the same size."""
    assert options.memory is not None
    rows = []
    for spec in options.memory:
        path = _generated(spec, say)
        _warm_page_cache(path)
        r = _once(Task("streamthumb", str(path), model, device), options, say, f"memory {spec.name} streamthumb")
        rows.append(
            {
                "video": spec.name,
                "seconds": spec.seconds,
                "peak_rss_mb": r.get("peak_rss_mb"),
                "wall_s": r.get("wall_s"),
                "peak_frames_held": r.get("stats", {}).get("peak_frames_held"),
                **({"error": r["error"]} if "error" in r else {}),
            }
        )
    short, long_ = rows
    ok = short.get("peak_rss_mb") and long_.get("peak_rss_mb") and "error" not in short and "error" not in long_
    return {
        "short": short,
        "long": long_,
        "length_ratio": long_["seconds"] / short["seconds"],
        "rss_ratio": long_["peak_rss_mb"] / short["peak_rss_mb"] if ok else None,
    }


def _sweep(options: BenchOptions, model: ModelSpec, device: str, say: Callable[[str], None]) -> dict[str, Any] | None:
    if not (options.sweep if options.sweep is not None else device == "cuda"):
        return None
    return _once(Task("encoder_sweep", "", model, device), options, say, "encoder sweep")  # best-of is built in


# -- environment ----------------------------------------------------------------------------


def _resolve_device(name: str) -> str:
    """``auto`` is CUDA when torch sees a GPU, else CPU (MPS only when asked for by name)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but torch sees no CUDA GPU; use --device cpu")
    return name


def _torch_device(name: str) -> Any:
    import torch

    return torch.device(name)


def _machine(device: str) -> dict[str, Any]:
    import av
    import open_clip
    import torch

    gpu = torch.cuda.get_device_name() if device == "cuda" else None
    ffmpeg = shutil.which("ffmpeg")
    return {
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "av": av.__version__,
        "ffmpeg_libs": av.library_versions.get("libavcodec"),
        "open_clip": open_clip.__version__,
        "ffmpeg_cli": _ffmpeg_version() if ffmpeg else None,
        "gpu": gpu,
    }


def _revision() -> dict[str, Any]:
    """streamthumb's version and git commit, with ``dirty`` when the working tree differs from it."""
    import streamthumb

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"version": streamthumb.__version__, "commit": git("rev-parse", "HEAD"), "dirty": bool(status)}


def _ffmpeg_version() -> str | None:
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.split("\n", 1)[0]


def _stderr(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
