"""Webhook signatures and "asset ready" events: what ``streamthumb serve`` accepts, and how it signs.

The signature scheme is Mux's, so Mux can call the server directly: a header
``Mux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. A
signature older than ``TOLERANCE_S`` is refused, so a captured request cannot be replayed
later. Callbacks the server sends are signed the same way, in ``Streamthumb-Signature``.

Two event shapes are understood: Mux's ``video.asset.ready`` (the video URL is made from the
first public playback id with a template) and a generic ``asset.ready`` that carries the URL.
``asset.updated`` / ``video.asset.updated`` (optionally with ``start`` and ``end`` seconds for
a trim) re-run an asset. Other Mux ``video.*`` events are acknowledged and ignored, so Mux
stops retrying them.

Example:
    >>> header = sign(b'{"type": "asset.ready", ...}', "s3cret")
    >>> verify(body, header, "s3cret")                       # raises WebhookError if not
    >>> event = parse_event(body, source_template=MUX_TEMPLATE)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from .errors import StreamthumbError

__all__ = [
    "HANDLED",
    "MUX_TEMPLATE",
    "TOLERANCE_S",
    "AssetEvent",
    "Ignored",
    "WebhookError",
    "parse_event",
    "sign",
    "verify",
]

TOLERANCE_S = 300.0
"""Seconds a signature stays valid: older ones are replays."""
MUX_TEMPLATE = "https://stream.mux.com/{playback_id}/highest.mp4"
"""Where a Mux asset's video is read from, by its public playback id (static renditions)."""
HANDLED = {
    "video.asset.ready": False,
    "asset.ready": False,
    "video.asset.updated": True,
    "asset.updated": True,
}
"""Event types that make a job, and whether they re-run an asset already done."""


class WebhookError(StreamthumbError):
    """A delivery the server refuses; ``status`` is the HTTP code, ``reason`` a metrics label."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class AssetEvent:
    """One accepted event: which asset, where its video is, and which part of it."""

    event_id: str
    """The sender's id of the delivery: a second delivery of it makes no second job."""
    type: str
    asset_id: str
    url: str
    start: float = 0.0
    """Seconds: a trim's first second."""
    end: float | None = None
    """Seconds: a trim's last second; None reads to the end."""

    @property
    def rerun(self) -> bool:
        return HANDLED[self.type]


@dataclass(frozen=True)
class Ignored:
    """A well-formed event of a type the server acknowledges and does nothing with."""

    type: str


def sign(body: bytes, secret: str, *, at: float | None = None) -> str:
    """The ``t=...,v1=...`` header value for ``body``, signed now (or at ``at``)."""
    stamp = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify(body: bytes, header: str | None, secret: str, *, now: float | None = None) -> None:
    """Check a signature header against the raw body.

    Raises:
        WebhookError: 401: no header, a malformed one, a wrong signature, or one older than
            ``TOLERANCE_S`` (or from the future by as much).
    """
    if not header:
        raise WebhookError(401, "unsigned", "no Mux-Signature header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        stamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise WebhookError(401, "malformed_signature", "the signature header has no t=<unix seconds>") from None
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE_S:
        raise WebhookError(401, "stale", f"the signature's timestamp is more than {TOLERANCE_S:g} s away: a replay?")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise WebhookError(401, "bad_signature", "the signature does not match the body")


def parse_event(body: bytes, *, source_template: str = MUX_TEMPLATE) -> AssetEvent | Ignored:
    """The event in a verified body.

    Raises:
        WebhookError: 400: not JSON, not an event, an unknown type, or no way to the video.
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a 5000-digit number, nested too deep
        raise WebhookError(400, "malformed", f"the body is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str) or not isinstance(doc.get("data"), dict):
        raise WebhookError(400, "malformed", 'an event is {"type": ..., "id": ..., "data": {...}}')
    kind, data = doc["type"], doc["data"]
    if kind not in HANDLED:
        if kind.startswith("video."):
            return Ignored(kind)  # another Mux event: acknowledged, so Mux stops retrying
        raise WebhookError(400, "unknown_type", f"unknown event type {kind!r}; expected one of {', '.join(HANDLED)}")
    asset = _text(data.get("id"), "data.id")
    start = _seconds(data.get("start", 0.0), "data.start")
    end = None if data.get("end") is None else _seconds(data["end"], "data.end")
    if end is not None and end <= start:
        raise WebhookError(400, "malformed", f"data.end ({end:g}) must be after data.start ({start:g})")
    return AssetEvent(_text(doc.get("id"), "id"), kind, asset, _url(data, source_template), start, end)


def _url(data: dict[str, Any], template: str) -> str:
    """The generic event's ``url``, or the template filled with Mux's first public playback id."""
    if "url" in data:
        return _text(data["url"], "data.url")
    ids = [p.get("id") for p in data.get("playback_ids") or () if isinstance(p, dict) and p.get("policy") == "public"]
    if not ids:
        raise WebhookError(400, "malformed", "the event has neither data.url nor a public data.playback_ids entry")
    return template.format(playback_id=_text(ids[0], "data.playback_ids[].id"), asset_id=data["id"])


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise WebhookError(400, "malformed", f"{name} must be a non-empty string")
    return value


def _seconds(value: object, name: str) -> float:
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    except OverflowError:  # an integer too large for a float
        ok = False
    if not ok:
        raise WebhookError(400, "malformed", f"{name} must be seconds >= 0")
    return float(value)  # type: ignore[arg-type]
