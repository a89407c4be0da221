"""Command-line options shared by ``pick`` and ``batch``: they tune the same pipeline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from .config import Config
from .errors import ConfigError


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default in ``--help`` where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "%(default)" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


_FLAGS: tuple[tuple[tuple[str, ...], str, str, dict[str, Any]], ...] = (
    (("-k",), "select.k", "number of thumbnails", {"type": int}),
    (("--model",), "scoring.model", "open_clip model, hf-hub:org/repo, local-dir:/path, or none (no model)", {}),
    (("--pretrained",), "scoring.pretrained", "pretrained tag or checkpoint file", {}),
    (("--device",), "runtime.device", "where the models run", {"choices": ["auto", "cpu", "cuda", "mps"]}),
    (("--batch-size",), "runtime.batch_size", "candidates per model batch", {"type": int}),
    (("--detector",), "shots.detector", "shot detector", {"choices": ["content", "adaptive"]}),
    (("--sampling",), "decode.sampling", "decode every frame, or keyframes only", {"choices": ["all", "keyframes"]}),
    (("--format",), "output.format", "image format", {"choices": ["jpeg", "png", "webp"]}),
    (("--crop",), "output.crop", "crop to one or more aspect ratios, e.g. 16:9,1:1,9:16", {}),
    (("--max-duration",), "decode.max_duration", "stop reading at S seconds into the video", {"type": float}),
    (("--timeout",), "decode.timeout", "seconds a URL may take to connect or send data", {"type": float}),
)
"""Each dedicated flag: its option strings, the config key it sets, its help, argparse extras."""


def add_config_options(p: argparse.ArgumentParser) -> None:
    """The config file, ``--set``, and a flag for each setting people change most.

    Flags default to None, so only what the user typed overrides the config file; ``--help``
    shows the built-in default of the key each one sets.
    """
    defaults = Config().to_dict()
    for flags, key, text, extra in _FLAGS:
        section, name = key.split(".")
        p.add_argument(*flags, help=f"{text} ({key}; default: {defaults[section][name]})", **extra)
    p.add_argument("--config", help="YAML file, or a shipped preset: default, fast, quality (streamthumb config)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config key, e.g. select.min_gap=4"
    )
    p.add_argument("--progress", action="store_true", help="draw the progress bar even when stderr is not a terminal")


def show_progress(args: argparse.Namespace) -> bool:
    """A bar only on a terminal (or when asked): carriage-return updates make a mess of log files."""
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


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
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key.strip()}: {raw!r} is not a valid YAML value") from exc
        # YAML 1.1 reads 16:9 as base 60 (969); on the command line a ratio is meant.
        overrides[key.strip()] = raw.strip() if isinstance(value, int) and ":" in raw else value
    for flags, key, _, _ in _FLAGS:
        value = getattr(args, flags[-1].lstrip("-").replace("-", "_"), None)
        if value is not None:
            overrides[key] = value
    return config.with_overrides(overrides) if overrides else config
