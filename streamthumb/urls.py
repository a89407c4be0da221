"""Tell a URL from a path, without importing anything heavy.

The decoder (``sources``), batch inputs and manifest keys (``inputs``, ``identity``) all need
the same answer, and batch inputs are read before torch or PyAV load.

Example:
    >>> is_url("https://cdn.example.com/a.mp4"), is_url("videos/a.mp4")
    (True, False)
"""

from __future__ import annotations

import os
import re

__all__ = ["is_url"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a local path; a file that
    happens to be named like one is a path."""
    return bool(_URL.match(text)) and not os.path.exists(text)
