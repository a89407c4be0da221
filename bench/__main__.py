"""``python -m bench``: streamthumb against the blog's seed pipeline and the decode/encode floors.

Examples:
    $ python -m bench --quick                      # one 1-minute 720p video, under 3 min on 2 cores
    $ python -m bench --out results.json           # 480p, 720p (5 min) and 1080p, plus the memory check
    $ python -m bench --videos my.mp4 --device cuda --hwaccel cuda
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import markdown
from .runner import BenchOptions, run_benchmark
from .videos import FULL, MEMORY, QUICK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time streamthumb beside the seed pipeline, the decode floor and the encode floor.",
    )
    p.add_argument("--quick", action="store_true", help="one 1-minute 720p video, no memory check")
    p.add_argument(
        "--videos", nargs="+", type=Path, metavar="FILE", help="your own videos instead of the generated set"
    )
    p.add_argument(
        "--model",
        help="open_clip architecture (random init; default ViT-B-32 on CPU, ViT-L-14 on CUDA), "
        "or hf-hub:org/repo / local-dir:/path for real weights",
    )
    p.add_argument("--pretrained", help="real weights for --model: an open_clip tag or a checkpoint file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="default: %(default)s")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.add_argument("--repeat", type=int, default=1, help="runs per contender, fastest kept (default: %(default)s)")
    p.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="peak RSS on a 1- vs a 10-minute 480p video (default: on for the full run only)",
    )
    p.add_argument(
        "--hwaccel", metavar="TYPE", help="also time the decode floor with PyAV hardware decode (cuda, vaapi, ...)"
    )
    p.add_argument(
        "--sweep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sweep encoder batch sizes and precisions (default: on CUDA only)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run contenders in this process (for profilers and debuggers); no per-contender peak RSS",
    )
    p.add_argument("--no-seed", action="store_true", help="skip the seed pipeline (no ffmpeg CLI, or short on time)")
    return p


def options_from(args: argparse.Namespace, argv: Sequence[str]) -> BenchOptions:
    """Map the command line onto ``BenchOptions``."""
    full_run = not args.quick and not args.videos
    memory = full_run if args.memory is None else args.memory
    contenders = (
        BenchOptions.contenders if not args.no_seed else tuple(c for c in BenchOptions.contenders if c != "seed")
    )
    return BenchOptions(
        specs=QUICK if args.quick else FULL,
        files=tuple(args.videos or ()),
        model=args.model,
        pretrained=args.pretrained,
        device=args.device,
        contenders=contenders,
        repeat=args.repeat,
        memory=(MEMORY[0], MEMORY[1]) if memory else None,
        hwaccel=args.hwaccel,
        sweep=args.sweep,
        isolate=not args.in_process,
        extra={"command": shlex.join(["python", "-m", "bench", *argv])},
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        report = run_benchmark(options_from(args, argv))
    except (OSError, ValueError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
