"""Command-line options shared by ``pick`` and ``batch``: they tune the same pipeline."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from .config import Config
from .errors import ConfigError


def add_config_options(p: argparse.ArgumentParser) -> None:
    """The config file, ``--set``, and a flag for each setting people change most."""
    p.add_argument("-k", type=int, help="number of thumbnails (select.k)")
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
        try:
            overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key.strip()}: {raw!r} is not a valid YAML value") from exc
    for flag, key in _FLAG_KEYS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    return config.with_overrides(overrides) if overrides else config
