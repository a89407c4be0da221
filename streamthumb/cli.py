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

from . import _cli_batch
from ._cli_options import add_config_options, load_config
from .errors import ConfigError, StreamthumbError
from .results import Result

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamthumb", description="Pick the best thumbnails of a video.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pick", help="pick thumbnails from one video", description="Pick thumbnails from one video.")
    p.add_argument("video", help="video file")
    p.add_argument("--out", default="thumbs", help="output folder (default: %(default)s)")
    add_config_options(p)
    p.add_argument("--no-write", action="store_true", help="score only, write no files")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    _cli_batch.add_parsers(sub)
    return parser


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


def _summary(result: Result, wall: float) -> None:
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
