"""The ``batch`` and ``export`` subcommands, wired into ``streamthumb.cli``.

``cli.py`` calls ``add_parsers`` on its subparsers and hands a parsed ``batch`` or ``export``
command to ``run``; errors end there as one line on stderr, like every other command.

Example:
    $ streamthumb batch videos/ @more.txt --out thumbs/ --workers 2 -k 3
    $ streamthumb batch /shared/videos --out /shared/thumbs --engine ray --address auto --decoders 32
    $ streamthumb export --db thumbs/streamthumb.db --format csv --out results.csv
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
from pathlib import Path
from typing import Any

from ._cli_options import add_config_options, load_config, show_progress
from .errors import ConfigError
from .inputs import VIDEO_EXTENSIONS  # light: no torch
from .summary import VideoDone

__all__ = ["COMMANDS", "add_parsers", "run"]

COMMANDS = ("batch", "export")
"""The subcommands this module adds; ``cli.main`` sends these to ``run``."""


def add_parsers(subparsers: Any) -> None:
    """Add ``batch`` and ``export`` to the ``streamthumb`` subcommand parsers.

    Imports nothing heavy: ``--help`` must answer before torch loads.
    """
    b = subparsers.add_parser(
        "batch",
        help="pick thumbnails for a whole library, resumably",
        description="Pick thumbnails for many videos with one model, recording each in a SQLite manifest. "
        "Rerunning skips what is done; a killed run resumes where it stopped.",
    )
    b.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a video file, a folder (searched recursively by extension), @FILE (one path a line), "
        "or - (paths on stdin)",
    )
    b.add_argument("--out", required=True, metavar="DIR", help="thumbnail root: one folder per video in it")
    b.add_argument("--db", metavar="PATH", help="manifest file (default: DIR/streamthumb.db)")
    b.add_argument(
        "--workers", type=_positive, default=2, metavar="N", help="videos decoded at once (default: %(default)s)"
    )
    _add_engine_options(b)
    add_config_options(b)
    known = ",".join(sorted(e[1:] for e in VIDEO_EXTENSIONS))
    b.add_argument("--ext", metavar="LIST", help=f"comma-separated extensions to find in folders (default: {known})")
    b.add_argument("--retry-failed", action="store_true", help="retry videos that failed in an earlier run")
    b.add_argument("--force", action="store_true", help="redo every video, even if done with these settings")
    b.add_argument(
        "--flag-repeats",
        action="store_true",
        help="flag picks that repeat another video's pick (shared intros, bumpers, end cards), at least "
        "select.max_similarity alike, against every video done with these settings; kept in the manifest",
    )
    b.add_argument(
        "--report",
        metavar="PATH.html",
        help="also write an HTML index of the manifest: one row per video with its picks",
    )
    b.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary, no warnings; the exit code tells"
    )

    e = subparsers.add_parser(
        "export", help="write a batch manifest as JSON lines or CSV", description="Write a batch manifest out."
    )
    e.add_argument("--db", required=True, metavar="PATH", help="the manifest (DIR/streamthumb.db of a batch run)")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="(default: %(default)s)")
    e.add_argument("--status", choices=["done", "failed", "pending"], help="only rows with this status")
    e.add_argument("--out", metavar="FILE", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``batch`` or ``export`` command; return the exit code.

    Raises:
        StreamthumbError: for ``cli.main`` to report.
    """
    return _cmd_batch(args) if args.command == "batch" else _cmd_export(args)


def _add_engine_options(b: argparse.ArgumentParser) -> None:
    g = b.add_argument_group("engine", "where the work runs: local threads, or a Ray cluster (the ray extra)")
    g.add_argument("--engine", choices=["local", "ray"], default="local", help="(default: %(default)s)")
    g.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray: auto (the cluster `ray start` made on this machine) or ray://HOST:PORT; "
        "default: a private local cluster for this run",
    )
    g.add_argument(
        "--decoders", type=_positive, metavar="N", help="Ray: decoder actors, one CPU each (default: --workers)"
    )
    g.add_argument(
        "--scorers", type=_positive, default=1, metavar="N", help="Ray: scorer actors (default: %(default)s)"
    )
    g.add_argument(
        "--gpus-per-scorer",
        type=float,
        metavar="F",
        help="Ray: GPUs each scorer reserves, fractions share a card (default: 1 when the cluster has GPUs, else 0)",
    )
    g.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="Ray: retries of a video whose worker died, before it is recorded failed (default: %(default)s)",
    )
    g.add_argument(
        "--video-timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="Ray: a decoder stuck on one video longer than this is stopped and the video retried "
        "(default: %(default)g s)",
    )


def _executor(args: argparse.Namespace, config: Any) -> tuple[Any, int]:
    """(executor factory or None for local threads, worker count) for ``--engine``."""
    if args.engine == "local":
        return None, args.workers
    try:
        from .ray_engine import RayExecutor, RayOptions
    except ImportError as exc:
        raise ConfigError(f'--engine ray needs the ray extra ({exc.name} is missing): pip install -e ".[ray]"') from exc
    options = RayOptions(
        address=args.address,
        scorers=args.scorers,
        gpus_per_scorer=args.gpus_per_scorer,
        retries=args.retries,
        video_timeout_s=args.video_timeout,
    )
    return functools.partial(RayExecutor, config=config, options=options), args.decoders or args.workers


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import format_summary, run_batch  # torch: only once there is work to do

    config = load_config(args)
    executor, workers = _executor(args, config)
    with _BatchProgress(show_progress(args)) as bar:
        summary = run_batch(
            args.inputs,
            args.out,
            config,
            db=args.db,
            workers=workers,
            executor=executor,
            extensions=_extensions(args.ext) if args.ext else VIDEO_EXTENSIONS,
            retry_failed=args.retry_failed,
            force=args.force,
            on_event=bar,
            flag_repeats=args.flag_repeats,
        )
    if args.report:
        _write_index(summary.db, args.report)
    if not args.quiet:
        print(format_summary(summary), file=sys.stderr)
        if args.report:
            print(f"  index: {args.report}", file=sys.stderr)
    return summary.exit_code


def _write_index(db: str, path: str) -> None:
    """The ``--report`` page: every row of the manifest, this run's and earlier ones."""
    from .library import Manifest
    from .output import make_folder
    from .report import index_entries, write_index

    with Manifest(db, readonly=True) as manifest:
        entries = index_entries(manifest.records())
    make_folder(Path(path).parent)
    write_index(entries, path)


def _cmd_export(args: argparse.Namespace) -> int:
    from .library import Manifest, write_export
    from .output import write_atomic

    with Manifest(args.db, readonly=True) as manifest:
        records = manifest.records(args.status)
        if args.out:
            text = io.StringIO(newline="")
            write_export(records, args.format, text)
            write_atomic(Path(args.out), text.getvalue().encode("utf-8"))  # readers never see half
        else:
            write_export(records, args.format, sys.stdout)
    return 0


class _BatchProgress:
    """The batch progress bar, a ``VideoDone`` subscriber: videos settled, frames/s, failures.

    Opened at once when enabled, so even a run that finds nothing shows (and clears) its bar;
    the total arrives with the first event.

    Args:
        enabled: Draw at all (``show_progress``).
    """

    def __init__(self, enabled: bool):
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(unit="video", desc="streamthumb batch", file=sys.stderr, dynamic_ncols=True, leave=False)

    def __call__(self, event: VideoDone) -> None:
        bar = self._bar
        if bar is None:
            return
        if event.total is not None and bar.total != event.total:
            bar.total = event.total
        elapsed = bar.format_dict["elapsed"]
        rate = event.frames / elapsed if elapsed > 0 else 0.0
        bar.set_postfix_str(f"{rate:.0f} frames/s, {event.failed} failed", refresh=False)
        bar.update(event.finished - bar.n)

    def __enter__(self) -> _BatchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _extensions(text: str) -> frozenset[str]:
    return frozenset("." + e.strip().lower().lstrip(".") for e in text.split(",") if e.strip())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
