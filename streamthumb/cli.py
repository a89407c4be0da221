"""The ``streamthumb`` command.

Errors from streamthumb end as one line on stderr and a non-zero exit; set
``STREAMTHUMB_DEBUG=1`` to get the traceback instead.

Example:
    $ streamthumb pick clip.mp4 -k 3 --out thumbs/ --json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import _cli_batch
from .config import Config
from .errors import ConfigError, StreamthumbError

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamthumb", description="Pick the best thumbnails of a video.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pick", help="pick thumbnails from one video", description="Pick thumbnails from one video.")
    p.add_argument("video", help="video file")
    p.add_argument("-k", type=int, help="number of thumbnails (select.k)")
    p.add_argument("--out", default="thumbs", help="output folder (default: %(default)s)")
    p.add_argument("--config", help="YAML config file (default: built-in defaults, see configs/default.yaml)")
    p.add_argument("--model", help="open_clip model, hf-hub:org/repo or local-dir:/path (scoring.model)")
    p.add_argument("--pretrained", help="pretrained tag or checkpoint file (scoring.pretrained)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="runtime.device")
    p.add_argument("--batch-size", type=int, help="runtime.batch_size")
    p.add_argument("--detector", choices=["content", "adaptive"], help="shots.detector")
    p.add_argument("--sampling", choices=["all", "keyframes"], help="decode.sampling")
    p.add_argument("--format", choices=["jpeg", "png", "webp"], help="output.format")
    p.add_argument("--crop", help="crop thumbnails to an aspect ratio such as 16:9 (output.crop)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config key, e.g. select.min_gap=4"
    )
    p.add_argument("--no-write", action="store_true", help="score only, write no files")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    _cli_batch.add_parsers(sub)
    return parser


_FLAG_KEYS = {
    "k": "select.k",
    "model": "scoring.model",
    "pretrained": "scoring.pretrained",
    "device": "runtime.device",
    "batch_size": "runtime.batch_size",
    "detector": "shots.detector",
    "sampling": "decode.sampling",
    "format": "output.format",
    "crop": "output.crop",
}


def load_config(args: argparse.Namespace) -> Config:
    """The config file (or defaults), then ``--set`` pairs, then dedicated flags.

    Raises:
        ConfigError: a file, key or value is invalid.
    """
    config = Config.from_yaml(args.config) if args.config else Config()
    overrides: dict[str, Any] = {}
    for pair in args.set:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    for flag, key in _FLAG_KEYS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    return config.with_overrides(overrides) if overrides else config


def _cmd_pick(args: argparse.Namespace) -> int:
    from .output import write_thumbnails
    from .picker import pick

    config = load_config(args)
    start = time.perf_counter()
    result = pick(args.video, config, progress=not args.quiet)
    if not args.no_write:
        result = write_thumbnails(result, args.out, config.output)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        for p in result.picks:
            face = " face" if p.face else ""
            flag = " (fallback: every candidate was blurry or dark)" if p.fallback else ""
            print(f"{p.rank}\t{p.t:9.3f}s\tscore {p.score:+.4f}{face}\t{p.path or '-'}{flag}")
    if not args.quiet:
        _summary(result, time.perf_counter() - start)
    return 0


def _summary(result: Any, wall: float) -> None:
    s = result.stats
    name = Path(result.video).name if result.video else "stream"
    realtime = result.duration / wall if wall > 0 else 0.0
    lines = [
        f"{name}: {len(result.picks)} thumbnails from {result.duration:.1f} s of video "
        f"({result.width}x{result.height}, {s.frames_decoded} frames, {len(result.shots)} shots) "
        f"in {wall:.1f} s ({realtime:.1f}x realtime)",
        f"  candidates {s.candidates}, scored {s.scored}, rejected {s.rejected_blurry} blurry "
        f"and {s.rejected_exposure} dark/bright",
    ]
    if s.corrupt_packets:
        lines.append(f"  warning: skipped {s.corrupt_packets} corrupt packets")
    if s.truncated:
        lines.append("  warning: the video ended early; the file looks truncated")
    print("\n".join(lines), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = _parser().parse_args(argv)
    if not os.environ.get("STREAMTHUMB_DEBUG"):
        # open_clip and the hub log failures on the root logger; our one error line says it all.
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        return _cli_batch.run(args) if args.command in _cli_batch.COMMANDS else _cmd_pick(args)
    except StreamthumbError as exc:
        if os.environ.get("STREAMTHUMB_DEBUG"):
            raise
        print(f"streamthumb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("streamthumb: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
