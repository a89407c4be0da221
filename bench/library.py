"""Library benchmark: `streamthumb batch` throughput for several worker counts.

Times ``run_batch`` over a library of the benchmark's synthetic videos (``bench.videos``,
generated once into bench/.cache/) with one scorer loaded beforehand, so the model load is not
timed, into a fresh output folder per try. Tries alternate between worker counts so drift on a
shared machine hits every setting alike, and the median try of each is reported: videos/hour,
seconds of video per wall second, decoded frames/s, and how busy the one shared scorer was
(near 100% means the model is the bottleneck and more decode workers cannot help).

The model comes from ``bench.models``: an architecture name is that architecture with random
weights (timing only, meaningless picks); ``--pretrained`` or ``local-dir:``/``hf-hub:`` names
load real weights.

Usage:
    python -m bench.library --workers 1 2 --videos 16 --seconds 8 --size 854x480 --model ViT-B-32
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


def bench(
    videos: list[str], config: Config, scorer: Scorer, workers: list[int], repeat: int
) -> dict[int, list[BatchSummary]]:
    runs: dict[int, list[BatchSummary]] = {w: [] for w in workers}
    with tempfile.TemporaryDirectory(prefix="streamthumb-bench-") as tmp:
        run_batch(videos[:1], Path(tmp) / "warmup", config, workers=1, scorer=scorer)  # first-call costs
        for r in range(repeat):
            for w in workers:
                out = Path(tmp) / f"w{w}-r{r}"
                summary = run_batch(videos, out, config, workers=w, scorer=scorer)
                if summary.failed:
                    raise SystemExit(f"benchmark videos failed: {summary.failures}")
                runs[w].append(summary)
                shutil.rmtree(out)
    return runs


def report(runs: dict[int, list[BatchSummary]]) -> list[dict[str, object]]:
    rows = []
    for w, summaries in runs.items():
        median = sorted(summaries, key=lambda s: s.wall_s)[len(summaries) // 2]
        rows.append(
            {
                "workers": w,
                "videos": median.done,
                "wall_s": round(median.wall_s, 2),
                "wall_s_all": [round(s.wall_s, 2) for s in summaries],
                "videos_per_hour": round(median.videos_per_hour),
                "realtime": round(median.video_seconds / median.wall_s, 2),
                "frames_per_s": round(median.frames / median.wall_s, 1),
                "scorer_busy": round(median.scorer_busy, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `streamthumb batch` for several worker counts.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
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
    videos = make_library(args.videos, args.seconds, width, height)
    rows = report(bench(videos, config, scorer, args.workers, args.repeat))
    print(
        f"library: {args.videos} videos x {args.seconds} s at {args.size}; model {args.model} ({spec.weights}); "
        f"device {device}; median of {args.repeat}"
    )
    print(f"{'workers':>7} {'wall s':>7} {'videos/h':>9} {'x realtime':>10} {'frames/s':>9} {'scorer busy':>11}")
    for r in rows:
        print(
            f"{r['workers']:>7} {r['wall_s']:>7.2f} {r['videos_per_hour']:>9} {r['realtime']:>10.2f} "
            f"{r['frames_per_s']:>9.1f} {r['scorer_busy']:>11.0%}"
        )
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": settings, "model": spec.to_dict(), "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
