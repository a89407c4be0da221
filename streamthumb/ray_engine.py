"""Batch mode on a Ray cluster: decoders where the cores are, scorers where the GPUs are.

``RayExecutor`` is an ``Executor`` (``executor.py``), so ``run_batch`` drives it exactly as it
drives local threads: the driver decides what to do from the manifest, submits videos, and
commits each outcome as it arrives, as the manifest's only writer. Skip, resume and exit-code
rules are therefore the local engine's, and either engine resumes the other's manifest.

Work runs in two kinds of long-lived actors, plain Ray actors rather than Ray Data: every video
must come back as one outcome the driver commits at once, be retried alone when its worker dies
and fail alone when it keeps killing workers, none of which maps onto Ray Data's blocks.

- **Decoders** (one CPU each) run ``task.process_one``: PyAV decode, shot detection, filters,
  faces, selection and writing the picks, one video at a time. Only candidates' analysis views
  leave them, through the object store, never full frames.
- **Scorers** (a GPU or a fraction of one each, or CPU when there is none) load the model once
  and put every decoder's candidates through one ``InferenceEngine``, so batches from many
  videos fill each model call.

Faults: a decoder that dies (killed, out of memory, node lost) is replaced and its video retried
on another, up to ``retries`` times, then recorded failed with the reason; a video that kills
every worker it meets (a poison pill) ends that way without taking the run down. A scorer that
dies is restarted by Ray; decoders wait for it (or use another scorer), and a video whose scorer
never comes back is retried like one whose decoder died. Every wait is bounded.

Example:
    >>> factory = functools.partial(RayExecutor, config=config, options=RayOptions(address="auto"))
    >>> summary = run_batch(["videos/"], "thumbs/", config, workers=8, executor=factory)
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
import torch
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayError, RayTaskError

from ._device import resolve_device
from .config import Config
from .engine import EngineStats, InferenceEngine, Scores
from .errors import ConfigError, ModelError, StreamthumbError
from .scoring import Scorer, load_scorer
from .task import Outcome, VideoTask, Worker, make_worker

__all__ = ["RayExecutor", "RayOptions", "ScorerLost"]

_POLL_S = 1.0
"""Seconds between checks while waiting for outcomes: a wait never blocks for longer."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs."""

    address: str | None = None
    """``auto`` joins the cluster ``ray start`` made on this machine, ``ray://HOST:PORT`` a remote
    one; None starts a private local cluster that ends with the run."""
    scorers: int = 1
    """Scoring actors, each with its own copy of the model."""
    gpus_per_scorer: float | None = None
    """GPUs each scorer reserves (fractions share a card); None: 1 when the cluster has GPUs."""
    retries: int = 2
    """Times a video is retried after its worker died, before it is recorded failed."""
    scorer_wait_s: float = 120.0
    """How long a decoder waits for a lost scorer to come back before its video is retried."""
    batch_timeout_s: float = 600.0
    """The longest one scoring call may take before it counts as lost."""
    startup_timeout_s: float = 900.0
    """How long the scorers may take to load the model at the start (a first download of the
    weights on every node can take minutes), and a decoder to start."""
    video_timeout_s: float = 3600.0
    """The longest one video may take on a decoder once it is up: a decoder stuck longer is
    killed, and the video retried like one whose decoder died."""

    def __post_init__(self) -> None:
        if self.scorers < 1:
            raise ConfigError(f"--scorers must be >= 1, got {self.scorers}")
        if self.gpus_per_scorer is not None and self.gpus_per_scorer < 0:
            raise ConfigError(f"--gpus-per-scorer must be >= 0, got {self.gpus_per_scorer}")
        if self.retries < 0:
            raise ConfigError(f"--retries must be >= 0, got {self.retries}")
        if self.video_timeout_s <= 0:
            raise ConfigError(f"--video-timeout must be > 0, got {self.video_timeout_s:g}")


class ScorerLost(StreamthumbError):
    """No scorer answered within ``scorer_wait_s``: the video is retried, not failed."""


# -- the actors ----------------------------------------------------------------------------


class _ScorerActor:
    """The model, loaded once, behind an engine that merges concurrent decoders' batches.

    Ray runs it as a threaded actor: each decoder's call waits on its own thread for its slice
    of a shared micro-batch.
    """

    def __init__(self, config: Config, clients: int):
        scorer = load_scorer(config.scoring, resolve_device(config.runtime.device))
        self._engine = InferenceEngine(scorer, max_batch=config.runtime.batch_size)
        for _ in range(clients):
            self._engine.attach()  # so the engine waits briefly to merge their batches

    def provenance(self) -> dict[str, Any]:
        return self._engine.scorer.provenance()

    def score(self, images: torch.Tensor) -> Scores:
        return self._engine.submit(images).result()

    def stats(self) -> EngineStats:
        return self._engine.stats()


class _RemoteScorer(Scorer):
    """A decoder's view of the scorers: sends views, waits (bounded) for a scorer that answers.

    Args:
        scorers: The scoring actors' handles; calls go round them, so a dead one is skipped.
        provenance: The model's provenance, asked once, for every result.
        options: The waits.
    """

    device = torch.device("cpu")

    def __init__(self, scorers: Sequence[Any], provenance: dict[str, Any], options: RayOptions):
        self._scorers = list(scorers)
        self._next = itertools.cycle(range(len(self._scorers)))
        self._provenance = provenance
        self._options = options
        self.lost = False
        """Set when a call gave up: the decoder's current video must be retried."""

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return self.score_and_embed(images)[0]

    def score_and_embed(self, images: torch.Tensor) -> Scores:
        """Raises ``ScorerLost`` when no scorer answered within ``scorer_wait_s``."""
        deadline = time.monotonic() + self._options.scorer_wait_s
        images = images.cpu()
        while True:
            scorer = self._scorers[next(self._next)]
            try:
                return ray.get(scorer.score.remote(images), timeout=self._options.batch_timeout_s)
            except (RayActorError, ActorUnavailableError, GetTimeoutError) as exc:
                if time.monotonic() > deadline:
                    self.lost = True
                    raise ScorerLost(f"no scorer answered for {self._options.scorer_wait_s:g} s ({exc})") from exc
                time.sleep(_POLL_S)  # a restarting scorer reloads its model


class _DecoderActor:
    """Runs ``process_one`` for one video at a time, scoring through the scorers."""

    def __init__(self, config: Config, scorers: Sequence[Any], options: RayOptions):
        if config.decode.threads == 0:
            # "One per core" would be every core of the node for each decoder: it reserved one.
            config = config.with_overrides({"decode.threads": 1})
        provenance = ray.get(scorers[0].provenance.remote(), timeout=options.startup_timeout_s)
        self._scorer = _RemoteScorer(scorers, provenance, options)
        self._engine = InferenceEngine(self._scorer, max_batch=config.runtime.batch_size)
        self._work: Worker = make_worker(config, self._engine)

    def ready(self) -> bool:
        return True

    def process(self, task: VideoTask) -> Outcome:
        """The video's outcome; raises ``ScorerLost`` instead when its scoring was lost."""
        self._scorer.lost = False
        outcome = self._work(task)
        if self._scorer.lost:
            raise ScorerLost(outcome.error or "the scorer was lost")
        return outcome


# -- the driver's side -----------------------------------------------------------------------


@dataclass
class _Running:
    task: VideoTask
    decoder: int
    attempt: int
    started: float | None = None
    """When its decoder took it; None while a new decoder is still starting, so a worker
    process's start-up (its imports, its scorer handles) is never charged to the video."""
    launched: float = field(default_factory=time.monotonic)
    overdue: str | None = None
    """Why its decoder was killed: it took too long, or never started."""


class RayExecutor:
    """Runs ``process_one`` on Ray decoder actors; one video in flight per decoder.

    One video per decoder, rather than a queue behind each, means a decoder that dies takes
    only the video it was working on with it, so a retry is always charged to the right video.

    Args:
        count: Decoder actors (``--decoders``, or ``--workers``).
        make_worker: Unused: the decoders build their own workers from ``config`` (the local
            engine's worker would hold this process's model).
        config: The run's settings, sent to every actor.
        options: The cluster and the fault limits.

    Raises:
        ConfigError: the cluster cannot be reached, or has too few CPUs or GPUs for the actors.
    """

    def __init__(
        self,
        count: int,
        make_worker: Callable[[], Worker] | None = None,
        *,
        config: Config,
        options: RayOptions = RayOptions(),
    ):
        self.limit = count
        self._count, self._config, self._options = count, config, options
        self._own_cluster = False
        self._scorers: list[Any] = []
        self._decoders: list[Any] = []
        self._booting: dict[int, Any] = {}  # decoder index -> its ready() ref, until answered
        self._running: dict[Any, _Running] = {}  # object ref -> what it is
        self._retry: list[tuple[VideoTask, int]] = []  # (task, attempt) waiting for a decoder
        self._final: EngineStats | None = None
        self.peak_in_flight = 0
        self.restarts = 0
        """Decoders replaced after they died."""
        self.startup_s = 0.0
        """Seconds spent connecting and starting the actors (their model loads included)."""
        if options.address is not None:
            self._connect()  # an unreachable cluster fails the run before any row is touched

    # -- Executor --------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._running) + len(self._retry)

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit

    def submit(self, task: VideoTask) -> None:
        """Start ``task`` on a free decoder.

        Raises:
            ModelError: the first task starts the actors, and the model cannot be loaded.
            ConfigError: the cluster cannot run them.
        """
        if not self._decoders:
            start = time.perf_counter()
            self._start()
            self.startup_s = time.perf_counter() - start
        self._launch(task, attempt=0)

    def completed(self, *, wait: bool = False) -> list[Outcome]:
        """Outcomes finished so far; a video whose worker died is retried, or failed for good."""
        outcomes: list[Outcome] = []
        while True:
            ready = self._ready(block=wait and not outcomes and bool(self._running))
            if not ready:
                return outcomes
            for ref in ready:
                outcome = self._collect(ref)
                if outcome is not None:
                    outcomes.append(outcome)

    def close(self) -> None:
        """Wait for every video in flight (``run_batch`` has taken their outcomes), then stop."""
        while self._running:
            self._ready(block=True)
        self._stop()

    def abort(self) -> None:
        """Stop now: decoders are killed mid-video, whose rows stay pending for the next run."""
        self._running.clear()
        self._retry.clear()
        self._stop()

    def scorer_stats(self) -> EngineStats | None:
        """The scorers' batches and busy time, summed; kept from the last look once stopped."""
        if self._final is not None or not self._scorers:
            return self._final
        stats = ray.get([s.stats.remote() for s in self._scorers], timeout=self._options.batch_timeout_s)
        return EngineStats(sum(s.batches for s in stats), sum(s.images for s in stats), sum(s.busy_s for s in stats))

    # -- actors ------------------------------------------------------------------------------

    def _start(self) -> None:
        self._connect()
        gpus = self._gpus_per_scorer()
        self._check_resources(gpus)
        scorer_cls = ray.remote(_ScorerActor).options(
            num_cpus=0 if gpus else 1,
            num_gpus=gpus,
            max_restarts=-1,  # Ray brings a dead scorer back; decoders wait for it
            max_concurrency=max(4, 2 * self._count),
        )
        self._scorers = [scorer_cls.remote(self._config, self._count) for _ in range(self._options.scorers)]
        wait = self._options.startup_timeout_s
        try:
            ray.get([s.provenance.remote() for s in self._scorers], timeout=wait)
        except RayActorError as exc:
            self._stop()
            raise ModelError(_cause(exc)) from exc
        except GetTimeoutError as exc:
            self._stop()
            raise ModelError(f"the scorers did not load the model within {wait:g} s") from exc
        self._decoders = [self._new_decoder(i) for i in range(self._count)]

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if self._options.address is None:
                ray.init(**kwargs)
                self._own_cluster = True
            else:
                ray.init(address=self._options.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {self._options.address}: {exc}") from exc

    def _gpus_per_scorer(self) -> float:
        if self._options.gpus_per_scorer is not None:
            return self._options.gpus_per_scorer
        return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0

    def _check_resources(self, gpus: float) -> None:
        """Fail at once, in one line, when the actors could never all be placed (Ray would wait)."""
        have = ray.cluster_resources()
        cpus = self._count + (0 if gpus else self._options.scorers)
        if cpus > have.get("CPU", 0):
            raise ConfigError(
                f"the Ray cluster has {have.get('CPU', 0):g} CPUs; {self._count} decoders and "
                f"{self._options.scorers} CPU scorers need {cpus} (lower --decoders or --scorers)"
            )
        if gpus * self._options.scorers > have.get("GPU", 0) + 1e-9:
            raise ConfigError(
                f"the Ray cluster has {have.get('GPU', 0):g} GPUs; {self._options.scorers} scorers at "
                f"{gpus:g} each need {gpus * self._options.scorers:g} (use --gpus-per-scorer 0 for CPU)"
            )

    def _new_decoder(self, index: int) -> Any:
        # No restarts: a dead decoder is replaced here, which counts the video's attempts.
        cls = ray.remote(_DecoderActor).options(num_cpus=1, max_restarts=0, max_task_retries=0)
        actor: Any = cls.remote(self._config, self._scorers, self._options)
        self._booting[index] = actor.ready.remote()  # an actor runs its calls in order
        return actor

    def _is_booting(self, index: int) -> bool:
        """Whether decoder ``index`` has yet to answer ``ready()``; never waits."""
        ref = self._booting.get(index)
        if ref is None:
            return False
        done, _ = ray.wait([ref], timeout=0)
        if done:
            del self._booting[index]
        return not done

    def _stop(self) -> None:
        if self._scorers and self._final is None:
            try:
                self._final = self.scorer_stats()
            except RayError:
                self._final = None
        for actor in [*self._decoders, *self._scorers]:
            ray.kill(actor, no_restart=True)
        self._decoders, self._scorers = [], []
        self._booting.clear()
        if self._own_cluster:
            ray.shutdown()
            self._own_cluster = False

    # -- videos ------------------------------------------------------------------------------

    def _launch(self, task: VideoTask, attempt: int) -> None:
        free = self._free_decoder()
        if free is None:
            self._retry.append((task, attempt))
            return
        ref = self._decoders[free].process.remote(task)
        started = None if self._is_booting(free) else time.monotonic()
        self._running[ref] = _Running(task, free, attempt, started)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _free_decoder(self) -> int | None:
        busy = {r.decoder for r in self._running.values()}
        return next((i for i in range(len(self._decoders)) if i not in busy), None)

    def _ready(self, *, block: bool) -> list[Any]:
        """Finished refs; with ``block``, waits (in bounded polls) for at least one."""
        while self._running:
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=_POLL_S if block else 0)
            if ready or not block:
                more, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
                return list({*ready, *more})
            self._stop_overdue()
        return []

    def _stop_overdue(self) -> None:
        """Kill decoders stuck on one video past ``video_timeout_s``, or still starting after
        ``startup_timeout_s`` (a node lost, no room to place it); their refs then fail.

        A video's clock starts when its decoder is up: a new worker process can take seconds
        to start on a busy node.
        """
        now = time.monotonic()
        options = self._options
        for job in self._running.values():
            if job.overdue is not None:
                continue
            if job.started is None and not self._is_booting(job.decoder):
                job.started = now
            if job.started is None and now - job.launched > options.startup_timeout_s:
                job.overdue = f"its decoder did not start within {options.startup_timeout_s:g} s"
            elif job.started is not None and now - job.started > options.video_timeout_s:
                job.overdue = f"it took longer than {options.video_timeout_s:g} s"
            if job.overdue is not None:
                ray.kill(self._decoders[job.decoder], no_restart=True)

    def _collect(self, ref: Any) -> Outcome | None:
        """The outcome of a finished ref, or None when its video was sent to run again."""
        job = self._running.pop(ref)
        try:
            outcome: Outcome = ray.get(ref, timeout=self._options.batch_timeout_s)
        except RayError as exc:  # a dead actor, a lost scorer (ScorerLost), a lost object
            return self._failed_attempt(job, exc)
        finally:
            self._feed()
        return outcome

    def _failed_attempt(self, job: _Running, exc: BaseException) -> Outcome | None:
        """Retry a video whose worker died or whose scorer was lost; give up after ``retries``."""
        if isinstance(exc, RayTaskError) and not isinstance(exc, ScorerLost):
            return Outcome.crashed(job.task, exc)  # the code raised: retrying would only repeat it
        if isinstance(exc, RayActorError):
            self._decoders[job.decoder] = self._new_decoder(job.decoder)
            self.restarts += 1
        if job.attempt >= self._options.retries:
            tries = job.attempt + 1
            why = job.overdue or _cause(exc)
            attempts = f"{tries} attempt{'s' if tries != 1 else ''}"
            return Outcome(job.task, None, {}, error=f"{job.task.listed}: gave up after {attempts}: {why}")
        self._launch(job.task, job.attempt + 1)
        return None

    def _feed(self) -> None:
        """Start waiting retries on decoders that came free."""
        waiting, self._retry = self._retry, []
        for task, attempt in waiting:
            self._launch(task, attempt)


def _cause(exc: BaseException) -> str:
    """One line saying why a Ray call failed, without Ray's traceback."""
    if isinstance(exc, ScorerLost):
        return "its scorer was lost"
    if isinstance(exc, RayActorError):
        text = str(exc).strip()
        if "error raised in its creation task" in text:  # its __init__ raised: say what
            return text.splitlines()[-1].split(": ", 1)[-1]
        return "its worker died (killed, out of memory, or its node was lost)"
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
