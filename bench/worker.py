"""Run one contender in this (fresh) process: ``python -m bench.worker TASK.json RESULT.json``.

A process per contender makes peak RSS a per-contender number (the parent reads it with
``os.wait4``) and keeps one contender's allocator state, thread pools and page-cache habits
from leaking into the next one's timing.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from pathlib import Path

from .contenders import Task, run


def main(argv: list[str]) -> int:
    task_path, result_path = argv
    task = Task.from_dict(json.loads(Path(task_path).read_text()))
    try:
        result = run(task)
        code = 0
    except Exception as exc:  # reported in the JSON as this contender's error; the run goes on
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        code = 1
    result["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(result_path).write_text(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
