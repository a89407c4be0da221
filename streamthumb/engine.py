"""One inference engine per device, shared by everything that scores.

Several pickers (batch workers, a server's jobs, a transcoder's streams) each hold a few
candidates at a time. Sent to the model one caller after another, they make many small
batches; the engine instead takes every caller's batch from one queue and merges them into
micro-batches of up to ``max_batch`` images before calling the scorer once, so the encoder's
batches stay full. A caller waits on a ``Future`` for its own slice of the results.

Example:
    >>> engine = InferenceEngine(load_scorer(cfg.scoring, "cuda"), max_batch=32)
    >>> future = engine.submit(views)               # (N, 3, H, W) uint8
    >>> scores, embeddings = future.result()
    >>> engine.close()
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from .scoring import Scorer

__all__ = ["EngineStats", "InferenceEngine", "Scores"]

Scores = tuple[torch.Tensor, torch.Tensor | None]
"""(N,) float32 scores and (N, D) unit-norm embeddings (None when the scorer has none), on the CPU."""


@dataclass
class _Request:
    images: torch.Tensor
    future: Future[Scores] = field(default_factory=Future)


@dataclass(frozen=True)
class EngineStats:
    """What the engine did: how full its batches were and how long the model was busy."""

    batches: int
    images: int
    busy_s: float

    @property
    def mean_batch(self) -> float:
        return self.images / self.batches if self.batches else 0.0


_STOP = object()


class InferenceEngine:
    """Merges callers' batches into full micro-batches on one scoring thread.

    Args:
        scorer: The loaded model; only the engine's thread calls it.
        max_batch: Most images per model call; a caller's larger batch is scored whole.
        max_wait: Seconds to wait for more callers' batches when more than one caller is
            attached and the batch is not full; a single caller never waits.
    """

    def __init__(self, scorer: Scorer, *, max_batch: int = 16, max_wait: float = 0.01):
        self.scorer = scorer
        self.device = scorer.device
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._queue: queue.Queue[_Request | object] = queue.Queue()
        self._held: list[_Request] = []  # taken from the queue, for a later batch (another shape)
        self._clients = 0
        self._lock = threading.Lock()
        self._batches = self._images = 0
        self._busy_s = 0.0
        self._thread = threading.Thread(target=self._work, name="streamthumb-engine", daemon=True)
        self._thread.start()

    def attach(self) -> None:
        """Say one more caller submits: the engine may wait briefly to merge their batches."""
        with self._lock:
            self._clients += 1

    def detach(self) -> None:
        with self._lock:
            self._clients = max(0, self._clients - 1)

    def submit(self, images: torch.Tensor) -> Future[Scores]:
        """Queue (N, 3, H, W) uint8 images; the future gives their scores and embeddings.

        Raises:
            RuntimeError: the engine was closed.
        """
        if not self._thread.is_alive():
            raise RuntimeError("InferenceEngine.submit() after close()")
        request = _Request(images)
        self._queue.put(request)
        return request.future

    def stats(self) -> EngineStats:
        return EngineStats(self._batches, self._images, self._busy_s)

    @property
    def ready(self) -> bool:
        """False while the scorer's model is still loading: a submit would wait for it."""
        return self.scorer.ready

    def close(self) -> None:
        """Finish queued requests and stop the thread; safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def __enter__(self) -> InferenceEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _work(self) -> None:
        stopping = False
        while not stopping or self._held:
            first = self._held.pop(0) if self._held else self._queue.get()
            if first is _STOP:
                stopping = True
                continue
            assert isinstance(first, _Request)
            group, stopping = self._gather(first, stopping)
            self._run(group)

    def _gather(self, first: _Request, stopping: bool) -> tuple[list[_Request], bool]:
        """Requests to merge with ``first``: same image shape, up to ``max_batch`` images."""
        group, count = [first], len(first.images)
        deadline = time.monotonic() + self._max_wait
        while count < self._max_batch and not stopping:
            wait = deadline - time.monotonic() if len(group) < self._clients else 0.0
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stopping = True
            elif isinstance(item, _Request) and item.images.shape[1:] == first.images.shape[1:]:
                group.append(item)
                count += len(item.images)
            else:
                self._held.append(item)  # type: ignore[arg-type]
        return group, stopping

    def _run(self, group: list[_Request]) -> None:
        start = time.perf_counter()
        try:
            images = torch.cat([r.images for r in group]) if len(group) > 1 else group[0].images
            scores, embeddings = self.scorer.score_and_embed(images.to(self.device, non_blocking=True))
        except BaseException as exc:  # each caller re-raises it
            for r in group:
                r.future.set_exception(exc)
            return
        finally:
            self._busy_s += time.perf_counter() - start
        self._batches += 1
        self._images += len(scores)
        offset = 0
        for r in group:
            n = len(r.images)
            emb = None if embeddings is None else embeddings[offset : offset + n]
            r.future.set_result((scores[offset : offset + n], emb))
            offset += n
