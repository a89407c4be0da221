"""Shared fixtures: generated videos, a tiny OpenCLIP checkpoint, and a fake scorer."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ lives beside the package

from streamthumb import Config, Scorer
from synthetic import Segment, save_tiny_clip, write_video

# The standard test video: five shots, one blurred and one black, a face in the first.
STANDARD = [
    Segment("astronaut", 3.0),
    Segment("coffee", 2.0),
    Segment("chelsea", 2.0, "blur"),
    Segment("rocket", 1.0, "black"),
    Segment("camera", 3.0),
]


def pytest_configure(config: pytest.Config) -> None:
    """Encoder-cache entries go to a folder of the run's own, never the user's cache; set in the
    environment so the CLI subprocesses and Ray workers the tests start see it too."""
    os.environ["STREAMTHUMB_CACHE_DIR"] = tempfile.mkdtemp(prefix="streamthumb-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if folder := os.environ.pop("STREAMTHUMB_CACHE_DIR", None):
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "needs_cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def standard_video(media: Path) -> tuple[Path, list[float]]:
    """(path, true cut times) of the five-shot standard video, 320x240 at 25 fps."""
    path = media / "standard.mp4"
    cuts = write_video(path, STANDARD)
    return path, cuts


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_config(tiny_clip_dir: Path) -> Config:
    """Default config, CPU, with the tiny model loaded through the real ``local-dir:`` path.

    Diversity is off: the tiny model's random weights embed every frame almost alike, so every
    candidate would be a "duplicate" of the first pick. ``test_diversity.py`` tests diversity
    with colour-histogram embeddings instead.
    """
    return Config().with_overrides(
        {"scoring.model": f"local-dir:{tiny_clip_dir}", "runtime.device": "cpu", **TINY_MODEL_OFF}
    )


TINY_MODEL_OFF = {"select.diversity": 0.0}
"""What the tiny random-weights model cannot do meaningfully."""


class ConstantScorer(Scorer):
    """A scorer that likes every frame equally, so only filters and bonuses decide."""

    def __init__(self, value: float = 0.0):
        self.device = torch.device("cpu")
        self.value = value
        self.batches: list[int] = []

    def score(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(images.shape[0])
        return torch.full((images.shape[0],), self.value)


class BrightnessScorer(Scorer):
    """Scores by mean brightness: deterministic, content-dependent, cheap."""

    device = torch.device("cpu")

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(1, 2, 3)) / 255.0


@pytest.fixture
def constant_scorer() -> ConstantScorer:
    return ConstantScorer()


def sigkill_when(proc: subprocess.Popen, ready: Callable[[], bool], *, what: str, timeout: float = 180.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds, as a crash would; fail if it ends first.

    ``proc`` must have ``stderr=PIPE``: its stderr is shown when it ended before the kill.
    The timeout is a hang guard, not a speed check.
    """
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, f"{what} never happened"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
