"""``streamthumb serve``: the background worker of the seed's section 8, as a small HTTP service.

A video platform's "asset ready" webhook (Mux's ``video.asset.ready``, or a generic
``asset.ready`` with a URL) is verified, queued durably and answered 202 before any video work;
``JobService`` picks the thumbnails and calls back. Starlette serves the routes and uvicorn
the HTTP: both are small, well kept, and do the parsing, limits and keep-alive that a
hand-written server would get wrong.

Routes:
    POST /webhooks/asset-ready   signed event -> 202 {"job": id}; 200 for a repeat or an
                                 ignored type; 400 malformed; 401 unsigned, wrong or stale
                                 signature; 413 over 1 MB; 503 with Retry-After when full
    GET  /jobs/{id}              bearer token: the job, with the pick --json document when done
    GET  /assets/{id}            bearer token: the asset's latest job and its history
    GET  /healthz                no auth
    GET  /metrics                Prometheus text: queue depth, jobs by state, job seconds,
                                 webhook rejections by reason, callback failures

Example:
    >>> app = make_app(AppSettings(secret="s", token="t"), store, service)
    >>> uvicorn.run(app, host="127.0.0.1", port=8700)
"""

from __future__ import annotations

import hmac
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .jobs import JobStore, QueueFull
from .service import JobService
from .webhooks import MUX_TEMPLATE, Ignored, WebhookError, parse_event, verify

__all__ = ["MAX_BODY", "AppSettings", "make_app"]

MAX_BODY = 1 << 20
"""Bytes: a larger webhook body is refused with 413 before it is read whole."""


@dataclass(frozen=True)
class AppSettings:
    """What the HTTP side needs to know."""

    secret: str
    """Verifies the webhooks (``STREAMTHUMB_WEBHOOK_SECRET``)."""
    token: str | None
    """The read API's bearer token (``STREAMTHUMB_API_TOKEN``); None refuses every read."""
    source_template: str = MUX_TEMPLATE
    max_queued: int = 1000
    """Jobs waiting at most; more webhooks get 503 with ``Retry-After``."""
    retry_after: int = 30
    """Seconds a sender is asked to wait when the queue is full."""


class _Rejections:
    """Webhook refusals by reason, for the metrics; touched from the web threads."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def items(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(self._counts.items())


def make_app(settings: AppSettings, store: JobStore, service: JobService) -> Starlette:
    """The Starlette app; the service's threads run from startup to shutdown."""
    rejected = _Rejections()

    async def asset_ready(request: Request) -> Response:
        try:
            body = await _body(request)
            verify(body, request.headers.get("mux-signature"), settings.secret)
            event = parse_event(body, source_template=settings.source_template)
            if isinstance(event, Ignored):
                return JSONResponse({"ignored": event.type})
            job_id, created = await run_in_threadpool(store.add, event, max_queued=settings.max_queued)
        except WebhookError as exc:
            rejected.add(exc.reason)
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except QueueFull as exc:
            rejected.add("queue_full")
            headers = {"Retry-After": str(settings.retry_after)}
            return JSONResponse({"error": str(exc)}, status_code=503, headers=headers)
        service.notify()
        return JSONResponse({"job": job_id}, status_code=202 if created else 200)

    async def job(request: Request) -> Response:
        _authorise(request, settings.token)
        found = await run_in_threadpool(store.get, request.path_params["job_id"])
        if found is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(found.to_dict())

    async def asset(request: Request) -> Response:
        _authorise(request, settings.token)
        jobs = await run_in_threadpool(store.asset, request.path_params["asset_id"])
        if not jobs:
            return JSONResponse({"error": "no such asset"}, status_code=404)
        latest, *history = jobs
        return JSONResponse({"asset": latest.asset_id, "status": latest.status, **latest.to_dict(),
                             "history": [j.to_dict() for j in history]})  # fmt: skip

    async def healthz(request: Request) -> Response:
        healthy = service.healthy
        return JSONResponse({"ok": healthy, "threads": service.alive}, status_code=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(await run_in_threadpool(_metrics, store, service, rejected))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = Starlette(
        routes=[
            Route("/webhooks/asset-ready", asset_ready, methods=["POST"]),
            Route("/jobs/{job_id}", job),
            Route("/assets/{asset_id}", asset),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
        exception_handlers={_Unauthorised: _unauthorised},
    )
    return app


async def _body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``MAX_BODY``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise WebhookError(413, "too_large", f"the body is over {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise WebhookError(413, "too_large", f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class _Unauthorised(Exception):
    pass


def _authorise(request: Request, token: str | None) -> None:
    given = request.headers.get("authorization", "")
    if token is None or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise _Unauthorised


async def _unauthorised(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": "a valid Authorization: Bearer <STREAMTHUMB_API_TOKEN> header is needed"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _copy(counter: Counter[str]) -> list[tuple[str, int]]:
    """A sorted copy: another thread may add a key meanwhile, and ``dict()`` copies atomically."""
    return sorted(dict(counter).items())


def _metrics(store: JobStore, service: JobService, rejected: _Rejections) -> str:
    """The Prometheus text exposition of the server's state."""
    counts = store.counts()
    ended, seconds = store.durations()
    lines = [
        "# HELP streamthumb_queue_depth Jobs waiting for a worker.",
        "# TYPE streamthumb_queue_depth gauge",
        f"streamthumb_queue_depth {counts['queued']}",
        "# HELP streamthumb_jobs Jobs by state.",
        "# TYPE streamthumb_jobs gauge",
        *(f'streamthumb_jobs{{state="{state}"}} {n}' for state, n in sorted(counts.items())),
        "# HELP streamthumb_job_seconds Time the ended jobs took.",
        "# TYPE streamthumb_job_seconds summary",
        f"streamthumb_job_seconds_count {ended}",
        f"streamthumb_job_seconds_sum {seconds:.3f}",
        "# HELP streamthumb_webhook_rejections_total Webhooks refused, by reason.",
        "# TYPE streamthumb_webhook_rejections_total counter",
        *(f'streamthumb_webhook_rejections_total{{reason="{r}"}} {n}' for r, n in rejected.items()),
        "# HELP streamthumb_callback_failures_total Callback attempts that got no 2xx, by status.",
        "# TYPE streamthumb_callback_failures_total counter",
        *(f'streamthumb_callback_failures_total{{status="{s}"}} {n}' for s, n in _copy(service.callback_failures)),
    ]
    return "\n".join(lines) + "\n"
