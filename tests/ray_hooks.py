"""Fault injection for the Ray engine's tests, run in every Ray worker process at start-up.

``ray.init(runtime_env={"worker_process_setup_hook": "ray_hooks.setup", ...})`` makes each worker
replace ``task.process_one`` with a version that misbehaves on videos named for it: a file
named ``poison*`` kills the worker process outright, as a segfault or the OOM killer would, and
``slow*`` takes a second longer, so a test can kill a worker while it is busy with one, and
``stuck*`` hangs for a minute, as a decoder stuck on a stalled source would.

A decoder's start-up is slowed by the seconds written in ``$STREAMTHUMB_TEST_FLAGS/slow-boot``
while that file exists, as a worker process's start is on a busy node.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def setup() -> None:
    _misbehave_on_named_videos()
    _slow_decoder_boot_when_flagged()


def _misbehave_on_named_videos() -> None:
    from streamthumb import task

    real = task.process_one

    def process_one(video, **kwargs):
        name = Path(video.listed).name
        if name.startswith("poison"):
            os._exit(137)
        if name.startswith("slow"):
            time.sleep(1.0)
        if name.startswith("stuck"):
            time.sleep(60.0)
        return real(video, **kwargs)

    task.process_one = process_one


def _slow_decoder_boot_when_flagged() -> None:
    from streamthumb import ray_engine

    flag = Path(os.environ.get("STREAMTHUMB_TEST_FLAGS", "/nonexistent")) / "slow-boot"
    real = ray_engine._DecoderActor.__init__

    def __init__(self, *args, **kwargs):
        if flag.exists():
            time.sleep(float(flag.read_text()))
        real(self, *args, **kwargs)

    ray_engine._DecoderActor.__init__ = __init__
