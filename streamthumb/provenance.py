"""What made a result: enough to reproduce any score, and to re-run a library selectively.

Every result carries a ``provenance`` block: streamthumb's version, the scorer's own account
(model, pretrained tag or checkpoint file with its SHA-256, preprocessing, precision, prompts),
the whole effective config (every filter threshold and weight) and ``config_hash``, the same
hash the batch manifest keeps per video, so "which rows were made with the old model" is one
query. Nothing in it depends on the machine or the clock: two runs of the same input and
config give identical blocks.

Example:
    >>> block = provenance(config, scorer)
    >>> block["config_hash"], block["scorer"]["weights_sha256"]
"""

from __future__ import annotations

from typing import Any

import streamthumb

from .config import Config
from .identity import config_hash, output_settings
from .scoring import Scorer

__all__ = ["provenance"]


def provenance(config: Config, scorer: Scorer) -> dict[str, Any]:
    """The provenance block of a result made with ``config`` and ``scorer``.

    The config is given less the keys that only change speed or file locations (device,
    batch sizes, threads, the weights cache folder), which the hash leaves out too.
    """
    return {
        "streamthumb": streamthumb.__version__,
        "config_hash": config_hash(config),
        "scorer": scorer.provenance(),
        "config": output_settings(config),
    }
