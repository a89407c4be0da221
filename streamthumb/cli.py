"""The ``streamthumb`` command.

Errors from streamthumb end as one line on stderr and a non-zero exit; set
``STREAMTHUMB_DEBUG=1`` to get the traceback instead. Arguments are parsed, and ``--help``,
``--version`` and usage errors answered, before torch or open_clip is imported.

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
from typing import TYPE_CHECKING

from . import __version__, _cli_batch, _cli_serve
from ._cli_options import HelpFormatter, add_config_options, load_config, show_progress
from .errors import ConfigError, StreamthumbError

if TYPE_CHECKING:
    from .config import Config
    from .results import Result

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell tool killed by a closed pipe (``| head``) reports."""
STDIN = "-"
"""The video argument that reads a stream from standard input."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamthumb", description="Pick the best thumbnails of a video.")
    parser.add_argument("--version", action="version", version=f"streamthumb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "pick",
        help="pick thumbnails from one video",
        description="Pick thumbnails from one video. They are written to OUT/<video name>/, replacing that "
        "folder's earlier thumbnails.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "video", help="video file, URL (http, https, HLS .m3u8, rtmp, srt), or - to read a stream from stdin"
    )
    p.add_argument("--out", default="thumbs", help="output root; thumbnails go to OUT/<video name>/")
    add_config_options(p)
    p.add_argument("--no-write", action="store_true", help="score only, write no files")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--explain",
        action="store_true",
        help="with --json: add every candidate with its signals, verdicts and fate (why it lost)",
    )
    p.add_argument(
        "--report",
        metavar="PATH.html",
        help="also write one self-contained HTML page: every candidate, why it won or lost, a score chart",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    c = sub.add_parser(
        "config",
        help="print a shipped config (the defaults, or a preset) as YAML",
        description="Print a config shipped with streamthumb, to copy and edit: "
        "streamthumb config > my.yaml; streamthumb pick clip.mp4 --config my.yaml",
    )
    c.add_argument("name", nargs="?", default="default", help="default, fast or quality (default: %(default)s)")
    sub.add_parser(
        "schema",
        help="print the JSON Schema of pick --json",
        description="Print the JSON Schema (draft 2020-12) that every pick --json result follows.",
    )
    _cli_batch.add_parsers(sub)
    _cli_serve.add_parser(sub)
    return parser


def _cmd_pick(args: argparse.Namespace) -> int:
    config = load_config(args)
    start = time.perf_counter()
    if args.report:
        from .output import make_folder

        make_folder(Path(args.report).parent)  # fails before decoding, not after
    if args.no_write:
        result = _pick(args, config)
    else:
        from .output import claim_folder, prepared_folder, video_folder, write_thumbnails

        with prepared_folder(video_folder(args.out, _name(args.video))) as folder:  # fails before decoding
            result = write_thumbnails(_pick(args, config), folder, config.output)
            claim_folder(folder, _name(args.video))
    if args.report:
        from .report import write_report

        write_report(result, args.report)  # after the thumbnails, so it links to them
    if args.json:
        print(json.dumps(result.to_dict(explain=args.explain)))
    else:
        for p in result.picks:
            face = " face" if p.face else ""
            flag = " (fallback: every candidate failed the filters)" if p.fallback else ""
            print(f"{p.rank}\t{p.t:9.3f}s\tscore {p.score:+.4f}{face}\t{p.path or '-'}{flag}")
    if not args.quiet:
        print(summary(result, time.perf_counter() - start), file=sys.stderr)
        if args.report:
            print(f"  report: {args.report}", file=sys.stderr)
    return 0


def _pick(args: argparse.Namespace, config: Config) -> Result:
    from ._cli_progress import VideoProgress
    from .picker import pick

    source = sys.stdin.buffer if args.video == STDIN else args.video
    with VideoProgress(show_progress(args)) as bar:
        return pick(source, config, on_event=bar, keep_thumbs=bool(args.report))


def _name(video: str) -> str:
    """The name a source's folder and messages go by: ``-`` is ``<stdin>``."""
    return "<stdin>" if video == STDIN else video


def _cmd_schema(args: argparse.Namespace) -> int:
    from importlib.resources import files

    sys.stdout.write(files("streamthumb").joinpath("schemas/result.schema.json").read_text(encoding="utf-8"))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import preset_text

    sys.stdout.write(preset_text(args.name))
    return 0


def summary(result: Result, wall: float) -> str:
    """The lines ``pick`` prints on stderr: what was found, from how much video, and warnings."""
    s = result.stats
    name = Path(result.video).name if result.video else "stream"
    realtime = result.duration / wall if wall > 0 else 0.0
    speed = f" ({realtime:.1f}x realtime)" if realtime >= 0.1 else ""  # 0.0x says nothing
    lines = [
        f"{name}: {plural(len(result.picks), 'thumbnail')} of {result.requested} asked from "
        f"{_seconds(result.duration)} of video ({result.width}x{result.height}, "
        f"{plural(s.frames_decoded, 'frame')}, {plural(len(result.shots), 'shot')}) in {_seconds(wall)}{speed}",
        f"  {plural(s.candidates, 'candidate')}, {s.scored} scored, rejected: "
        + (", ".join(f"{n} {reason}" for reason, n in sorted(s.rejected.items())) or "none"),
    ]
    if result.shortfall:
        lines.append(f"  fewer than {result.requested}: {result.shortfall}")
    if s.corrupt_packets:
        lines.append(f"  warning: skipped {plural(s.corrupt_packets, 'corrupt packet')}")
    if s.truncated:
        lines.append("  warning: the video ended early; the file looks truncated")
    return "\n".join(lines)


def plural(n: int, noun: str) -> str:
    """``1 shot``, ``2 shots``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _seconds(x: float) -> str:
    """Short durations keep two decimals: a one-frame clip is 0.04 s, not 0.0 s."""
    return f"{x:.1f} s" if x >= 10 else f"{x:.2f} s"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = _parser().parse_args(argv)
    if not os.environ.get("STREAMTHUMB_DEBUG"):
        # open_clip and the hub log failures on the root logger; our one error line says it all.
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        if args.command in _cli_batch.COMMANDS:
            return _cli_batch.run(args)
        commands = {"config": _cmd_config, "schema": _cmd_schema, "pick": _cmd_pick, "serve": _cli_serve.run}
        return commands[args.command](args)
    except StreamthumbError as exc:
        if os.environ.get("STREAMTHUMB_DEBUG"):
            raise
        print(f"streamthumb: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("streamthumb: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (``| head``) left; say nothing, and keep Python's exit flush from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
