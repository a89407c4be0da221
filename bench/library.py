"""Library benchmark: `streamthumb batch` throughput for several worker counts and engines.

Times ``run_batch`` over a library of the benchmark's synthetic videos (``bench.videos``,
generated once into bench/.cache/) into a fresh output folder per try. Tries alternate between
settings so drift on a shared machine hits every setting alike, and the median try of each is
reported: videos/hour, seconds of video per wall second, decoded frames/s, and how busy the
scorers were (near 100% means the model is the bottleneck and more decode workers cannot help).

The local engine scores with one scorer loaded beforehand, so the model load is not timed. The
Ray engine (``--engine ray``, on a local cluster of this machine's cores) starts its actors in
every try, which load the model from a saved copy of the same weights; that start-up is timed,
and reported apart (``startup_s``) so the steady rate can be read too.

The model comes from ``bench.models``: an architecture name is that architecture with random
weights (timing only, meaningless picks); ``--pretrained`` or ``local-dir:``/``hf-hub:`` names
load real weights.

Usage:
    python -m bench.library --workers 1 2 --videos 16 --seconds 8 --size 854x480 --model ViT-B-32
    python -m bench.library --engine local ray --workers 1   # the two engines side by side
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.models import ModelSpec, load_model
from bench.videos import VideoSpec, ensure_video
from streamthumb import Config
from streamthumb._device import resolve_device
from streamthumb.batch import BatchSummary, run_batch
from streamthumb.scoring import Scorer


def make_library(count: int, seconds: int, width: int, height: int) -> list[str]:
    """``count`` distinct videos (one seed each), generated on first use and cached."""
    return [str(ensure_video(VideoSpec(width, height, seconds, seed=i))) for i in range(count)]


Setting = tuple[str, int]
"""(engine, workers)."""
Try = tuple[BatchSummary, float]
"""One run's summary and the seconds it spent starting Ray actors (0 for the local engine)."""


def bench(
    videos: list[str], configs: dict[str, Config], scorer: Scorer, settings: list[Setting], repeat: int
) -> dict[Setting, list[Try]]:
    runs: dict[Setting, list[Try]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory(prefix="streamthumb-bench-") as tmp:
        run_batch(videos[:1], Path(tmp) / "warmup", configs["local"], workers=1, scorer=scorer)  # first-call costs
        for r in range(repeat):
            for engine, w in settings:
                out = Path(tmp) / f"{engine}-w{w}-r{r}"
                summary, startup = _run(engine, videos, out, configs[engine], w, scorer)
                if summary.failed:
                    raise SystemExit(f"benchmark videos failed: {summary.failures}")
                runs[(engine, w)].append((summary, startup))
                shutil.rmtree(out)
    return runs


def _run(engine: str, videos: list[str], out: Path, config: Config, workers: int, scorer: Scorer) -> Try:
    if engine == "local":
        return run_batch(videos, out, config, workers=workers, scorer=scorer), 0.0
    from streamthumb.ray_engine import RayExecutor

    made: list[RayExecutor] = []

    def factory(count: int, make_worker: object) -> RayExecutor:
        made.append(RayExecutor(count, config=config))
        return made[-1]

    summary = run_batch(videos, out, config, workers=workers, executor=factory)
    return summary, made[0].startup_s if made else 0.0


def report(runs: dict[Setting, list[Try]]) -> list[dict[str, object]]:
    rows = []
    for (engine, w), tries in runs.items():
        median, startup = sorted(tries, key=lambda t: t[0].wall_s)[len(tries) // 2]
        summaries = [summary for summary, _ in tries]
        rows.append(
            {
                "engine": engine,
                "workers": w,
                "videos": median.done,
                "wall_s": round(median.wall_s, 2),
                "wall_s_all": [round(s.wall_s, 2) for s in summaries],
                "startup_s": round(startup, 2),
                "videos_per_hour": round(median.videos_per_hour),
                "steady_videos_per_hour": round(3600 * median.done / max(1e-9, median.wall_s - startup)),
                "realtime": round(median.video_seconds / median.wall_s, 2),
                "frames_per_s": round(median.frames / median.wall_s, 1),
                "scorer_busy": round(median.scorer_busy, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `streamthumb batch` for several worker counts.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="decode workers (Ray: decoders)")
    parser.add_argument("--engine", nargs="+", choices=["local", "ray"], default=["local"])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8, help="length of each video")
    parser.add_argument("--size", default="854x480", help="WIDTHxHEIGHT")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default="ViT-B-32", help="open_clip architecture (random init), or real weights")
    parser.add_argument("--pretrained", help="a pretrained tag or checkpoint: real weights")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    device = resolve_device(args.device)
    spec = ModelSpec(args.model, args.pretrained)
    scorer = load_model(spec, device).scorer()
    config = Config().with_overrides({"scoring.model": args.model, "runtime.device": device.type})
    configs = {"local": config, "ray": _ray_config(spec, config)} if "ray" in args.engine else {"local": config}
    videos = make_library(args.videos, args.seconds, width, height)
    settings = [(engine, w) for engine in args.engine for w in args.workers]
    rows = report(bench(videos, configs, scorer, settings, args.repeat))
    print(
        f"library: {args.videos} videos x {args.seconds} s at {args.size}; model {args.model} ({spec.weights}); "
        f"device {device}; median of {args.repeat}"
    )
    print(
        f"{'engine':>6} {'workers':>7} {'wall s':>7} {'start s':>7} {'videos/h':>9} {'steady/h':>9} "
        f"{'x realtime':>10} {'frames/s':>9} {'scorer busy':>11}"
    )
    for r in rows:
        print(
            f"{r['engine']:>6} {r['workers']:>7} {r['wall_s']:>7.2f} {r['startup_s']:>7.2f} {r['videos_per_hour']:>9} "
            f"{r['steady_videos_per_hour']:>9} {r['realtime']:>10.2f} {r['frames_per_s']:>9.1f} "
            f"{r['scorer_busy']:>11.0%}"
        )
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": settings, "model": spec.to_dict(), "results": rows}, indent=2))
    return 0


def _ray_config(spec: ModelSpec, config: Config) -> Config:
    """The Ray actors load the model themselves: random weights go to them as a saved copy."""
    import ray

    from bench.models import saved_random
    from bench.videos import CACHE_DIR

    ray.init(include_dashboard=False, log_to_driver=False)
    if spec.random_weights:
        return config.with_overrides({"scoring.model": f"local-dir:{saved_random(spec.name, CACHE_DIR / 'models')}"})
    overrides = {"scoring.model": spec.name, **({"scoring.pretrained": spec.pretrained} if spec.pretrained else {})}
    return config.with_overrides(overrides)


if __name__ == "__main__":
    sys.exit(main())
