"""Benchmark harness: streamthumb beside the blog's seed pipeline and the decode/encode floors.

Every contender runs in its own fresh process on the same videos and the same model, so times
and peak RSS are per contender. Models are random-init copies of real architectures unless real
weights are named: the cost of a forward pass does not depend on the weights, and the report
says so in bold. ``python -m bench --help`` lists the options; ``run_benchmark`` is the API.

Example:
    >>> from bench import BenchOptions, QUICK, run_benchmark, markdown
    >>> report = run_benchmark(BenchOptions(specs=QUICK))
    >>> print(markdown(report))
"""

from __future__ import annotations

from .contenders import CONTENDERS, Task
from .models import ModelSpec
from .report import TARGETS, markdown
from .runner import BenchOptions, run_benchmark, spawn
from .videos import FULL, MEMORY, QUICK, VideoSpec, ensure_video

__all__ = [
    "CONTENDERS",
    "FULL",
    "MEMORY",
    "QUICK",
    "TARGETS",
    "BenchOptions",
    "ModelSpec",
    "Task",
    "VideoSpec",
    "ensure_video",
    "markdown",
    "run_benchmark",
    "spawn",
]
