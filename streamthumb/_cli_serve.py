"""The ``streamthumb serve`` subcommand: parse, check the secrets, wire the parts, run uvicorn.

Imports nothing heavy until the arguments are valid: ``--help`` answers before torch loads,
and a missing secret is reported before a model is.
"""

from __future__ import annotations

import argparse
import os
import urllib.parse
from pathlib import Path
from typing import Any

from ._cli_options import HelpFormatter, add_config_options, load_config
from .errors import ConfigError

__all__ = ["SECRET_ENV", "TOKEN_ENV", "add_parser", "run"]

SECRET_ENV = "STREAMTHUMB_WEBHOOK_SECRET"
TOKEN_ENV = "STREAMTHUMB_API_TOKEN"


def add_parser(subparsers: Any) -> None:
    """Add ``serve`` to the ``streamthumb`` subcommand parsers."""
    s = subparsers.add_parser(
        "serve",
        help="run the webhook worker: asset-ready events in, thumbnails and callbacks out",
        description=f"Take 'asset ready' webhooks (Mux's signature scheme), pick thumbnails in the background "
        f"and write them back. Needs {SECRET_ENV}; {TOKEN_ENV} opens the read API.",
        formatter_class=HelpFormatter,
    )
    s.add_argument("--out", required=True, metavar="DIR", help="thumbnails go to DIR/<asset>/<job>/")
    s.add_argument("--db", metavar="FILE", help="job store (default: DIR/jobs.db)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=8700, help="port to listen on")
    s.add_argument("--workers", type=int, default=2, metavar="N", help="videos decoded at once, one model")
    s.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST",
        help="a host videos may be read from (repeat it); private and loopback addresses only when listed",
    )  # fmt: skip
    s.add_argument("--callback", metavar="URL", help="POST each job's result here, signed, until a 2xx")
    s.add_argument(
        "--source-template", metavar="T", help="video URL of a Mux event, from {playback_id} and {asset_id} "
        "(default: https://stream.mux.com/{playback_id}/highest.mp4)",
    )  # fmt: skip
    s.add_argument("--max-queued", type=int, default=1000, metavar="N", help="jobs waiting at most; then 503")
    s.add_argument("--max-bytes", type=int, default=20 << 30, metavar="N", help="largest source file read")
    s.add_argument("--max-seconds", type=float, default=4 * 3600.0, metavar="S", help="most video read per job")
    s.add_argument("--callback-backoff", type=float, default=1.0, metavar="S", help="first retry delay, doubled")
    add_config_options(s)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit code.

    Raises:
        ConfigError: the webhook secret is not set, or an option is invalid.
        ModelError: the model cannot be loaded.
        OutputError: the output folder or the job store cannot be made, or another server holds it.
    """
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise ConfigError(f"serve refuses to start without {SECRET_ENV} (it verifies the webhooks and signs callbacks)")
    _check_options(args)
    config = load_config(args)

    try:
        import starlette  # noqa: F401  (the server module needs it; say so before the model loads)
        import uvicorn
    except ImportError as exc:
        raise ConfigError(f'serve needs the serve extra ({exc.name} is missing): pip install -e ".[serve]"') from exc

    from ._device import resolve_device
    from .engine import InferenceEngine
    from .fetch import SourcePolicy
    from .jobs import JobStore
    from .output import make_folder
    from .scoring import load_scorer
    from .server import AppSettings, make_app
    from .service import JobService, ServiceSettings
    from .webhooks import MUX_TEMPLATE

    out = make_folder(Path(args.out).resolve())  # before the model loads: a bad --out fails at once
    engine = InferenceEngine(load_scorer(config.scoring, resolve_device(config.runtime.device)),
                             max_batch=config.runtime.batch_size)  # fmt: skip
    with JobStore(args.db or out / "jobs.db") as store:
        policy = SourcePolicy(tuple(args.allow_host), max_bytes=args.max_bytes, timeout=config.decode.timeout)
        service = JobService(
            ServiceSettings(out, args.workers, policy, args.max_seconds, args.callback, secret, args.callback_backoff),
            store, engine, config,
        )  # fmt: skip
        settings = AppSettings(secret, os.environ.get(TOKEN_ENV) or None, args.source_template or MUX_TEMPLATE,
                               args.max_queued)  # fmt: skip
        app = make_app(settings, store, service)
        uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()
    engine.close()
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse at start what would break every job later.

    Raises:
        ConfigError: a count or a time is not positive, the callback is not an http(s) URL, or
            the source template names a field other than ``{playback_id}`` and ``{asset_id}``.
    """
    positive = {
        "--workers": args.workers,
        "--max-queued": args.max_queued,
        "--max-bytes": args.max_bytes,
        "--max-seconds": args.max_seconds,
        "--callback-backoff": args.callback_backoff,
    }
    for flag, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{flag} must be > 0, got {value}")
    if args.callback:
        parts = urllib.parse.urlsplit(args.callback)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--callback must be an http or https URL, got {args.callback!r}")
    if args.source_template:
        try:
            args.source_template.format(playback_id="p", asset_id="a")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"--source-template may use {{playback_id}} and {{asset_id}} only: {exc}") from exc
