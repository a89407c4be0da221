"""What a batch run reports: a ``VideoDone`` event per input as it goes, a ``BatchSummary`` at the end.

Light on purpose (no torch): the CLI's progress bar subscribes to ``VideoDone`` and prints
``format_summary``, and a server or a caller's job system reads the same objects.

Example:
    >>> summary = run_batch(["videos/"], "thumbs/", on_event=lambda e: print(e.finished, e.total))
    >>> print(format_summary(summary))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FAILURES_KEPT", "BatchEventCallback", "BatchSummary", "Failure", "VideoDone", "format_summary"]

FAILURES_KEPT = 100
"""Failures, and warnings, listed in the summary; the manifest has every one."""


@dataclass(frozen=True)
class VideoDone:
    """One input is settled: done, failed, skipped or a duplicate. Sent from the thread that
    called ``run_batch``, in the order the manifest records them."""

    path: str
    """As listed."""
    status: Literal["done", "failed", "skipped", "duplicate"]
    finished: int
    """Inputs settled so far in this run, this one included."""
    total: int | None
    """Inputs the run will settle; None when reading paths from stdin."""
    failed: int
    """Failures so far in this run."""
    frames: int
    """Frames decoded so far in this run, for a frames/s readout."""


BatchEventCallback = Callable[[VideoDone], None]
"""What ``run_batch(on_event=...)`` calls; it runs on the batch's own thread, so it may be slow."""


@dataclass(frozen=True)
class Failure:
    """A video (or folder) that could not be processed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did. ``skipped`` videos were already done (or failed) with these settings."""

    done: int
    skipped: int
    failed: int
    previously_failed: int
    """Skipped because they failed in an earlier run; ``retry_failed`` retries them."""
    duplicates: int
    """Inputs naming a video already met in this run, ignored."""
    video_seconds: float
    """Video processed by this run."""
    frames: int
    wall_s: float
    scorer_busy_s: float
    """Seconds the shared inference engine spent in the model."""
    mean_batch: float
    """Images per model call: merging several videos' candidates keeps it near the batch size."""
    failures: tuple[Failure, ...] = field(repr=False)
    """This run's failures, the first ``FAILURES_KEPT`` of them."""
    db: str
    warnings: tuple[str, ...] = field(default=(), repr=False)
    """This run's warnings, the first ``FAILURES_KEPT``: videos done from damaged files (their
    thumbnails may miss the damaged part), and inputs that held no video at all."""
    warning_count: int = 0
    """All of this run's warnings, kept or not."""
    repeats: tuple[str, ...] = field(default=(), repr=False)
    """With ``flag_repeats``: one line per video done in this run whose picks repeat another
    video's picks, the first ``FAILURES_KEPT``."""
    repeat_count: int = 0
    """Videos done in this run with a repeated pick, listed or not."""

    @property
    def videos(self) -> int:
        """Distinct videos this run looked at."""
        return self.done + self.skipped + self.failed

    @property
    def videos_per_hour(self) -> float:
        return self.done / self.wall_s * 3600 if self.wall_s > 0 else 0.0

    @property
    def scorer_busy(self) -> float:
        """Fraction of the wall time the model was busy; low means decode is the bottleneck."""
        return self.scorer_busy_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """1 while any input video is in the failed state, so reruns report the same, or when
        the inputs held no video at all: a mistyped ``--ext`` must not look like success."""
        return 1 if self.failed or self.previously_failed or not self.videos else 0


def format_summary(summary: BatchSummary) -> str:
    """The lines the CLI prints on stderr when a batch run ends."""
    s = summary
    batch = f", mean batch {s.mean_batch:.1f}" if s.mean_batch else ""
    lines = [
        f"streamthumb batch: {s.done} done, {s.skipped} skipped, {s.failed} failed"
        + (f", {s.duplicates} duplicate inputs ignored" if s.duplicates else "")
        + (f", {s.warning_count} warnings" if s.warning_count else ""),
        f"  {s.video_seconds / 3600:.2f} h of video in {s.wall_s:.1f} s: {s.videos_per_hour:.0f} videos/hour, "
        f"scorer busy {s.scorer_busy:.0%}{batch}",
    ]
    if not s.videos:
        lines.append("  no video found in the inputs: nothing was done (exit code 1)")
    if s.previously_failed:
        lines.append(f"  {s.previously_failed} skipped videos failed in an earlier run; --retry-failed retries them")
    lines += _listed("failed", [f.reason for f in s.failures], s.failed)
    lines += _listed("warnings", list(s.warnings), s.warning_count)
    lines += _listed("picks repeated in other videos (a shared intro or bumper?)", list(s.repeats), s.repeat_count)
    lines.append(f"  manifest: {s.db} (streamthumb export --db {s.db} --format csv)")
    return "\n".join(lines)


def _listed(title: str, lines: list[str], total: int) -> list[str]:
    """A titled, indented block of summary lines, saying how many were left out."""
    if not lines:
        return []
    more = [f"    ... and {total - len(lines)} more"] if total > len(lines) else []
    return [f"  {title}:", *(f"    {line}" for line in lines), *more]
