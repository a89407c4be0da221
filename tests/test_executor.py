"""The executor protocol: the thread implementation on fake work, and batch mode on any executor."""

import threading
from pathlib import Path

import pytest

from streamthumb import ModelError
from streamthumb.batch import run_batch
from streamthumb.executor import Executor, ThreadExecutor
from streamthumb.library import DB_NAME, Manifest
from streamthumb.task import Outcome, VideoTask
from synthetic import Segment, write_video


def tasks(n):
    return [VideoTask(f"v{i}.mp4", f"/v/v{i}.mp4", Path(f"/t/v{i}")) for i in range(n)]


def echo(task):
    return Outcome(task, None, {"work": 0.0})


def run_all(executor: Executor, todo: list[VideoTask]) -> list[Outcome]:
    """What batch mode does with any executor: submit while not full, then drain."""
    done = []
    for task in todo:
        while executor.full:
            done += executor.completed(wait=True)
        executor.submit(task)
        done += executor.completed()
    while executor.in_flight:
        done += executor.completed(wait=True)
    executor.close()
    return done


def streamthumb_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("streamthumb-")]


def test_every_task_comes_back_once_and_the_threads_stop():
    made = []
    executor = ThreadExecutor(3, lambda: made.append(1) or echo)
    assert not made  # no worker until the first task
    done = run_all(executor, tasks(20))
    assert sorted(o.task.listed for o in done) == sorted(t.listed for t in tasks(20))
    assert len(made) == 3 and executor.in_flight == 0
    assert streamthumb_threads() == []


def test_a_worker_that_raises_becomes_a_failed_outcome():
    def explode(task):
        raise ZeroDivisionError("division by zero")

    (outcome,) = run_all(ThreadExecutor(1, lambda: explode), tasks(1))
    assert outcome.error == "v0.mp4: ZeroDivisionError: division by zero"


def test_a_model_that_cannot_load_raises_from_the_first_submit():
    def make():
        raise ModelError("no weights")

    executor = ThreadExecutor(2, make)
    with pytest.raises(ModelError, match="no weights"):
        executor.submit(tasks(1)[0])
    executor.abort()


def test_abort_drops_queued_tasks_and_waits_for_the_running_one():
    started, release = threading.Event(), threading.Event()
    ran = []

    def slow(task):
        ran.append(task.listed)
        started.set()
        release.wait(10)
        return echo(task)

    executor = ThreadExecutor(1, lambda: slow)
    first, second = tasks(2)
    executor.submit(first)
    executor.submit(second)
    assert executor.full and started.wait(10)
    threading.Timer(0.05, release.set).start()
    executor.abort()
    assert ran == ["v0.mp4"] and streamthumb_threads() == []


class InlineExecutor:
    """The smallest executor: runs each task on submit, on the caller's thread."""

    def __init__(self, count, make_worker):
        self.made = 0
        self._make = make_worker
        self._work = None
        self._done = []

    @property
    def in_flight(self):
        return len(self._done)

    @property
    def full(self):
        return False

    def submit(self, task):
        if self._work is None:
            self._work = self._make()
            self.made += 1
        self._done.append(self._work(task))

    def completed(self, *, wait=False):
        done, self._done = self._done, []
        return done

    def close(self):
        pass

    def abort(self):
        pass

    def scorer_stats(self):
        return None


def test_batch_mode_runs_on_any_executor(tiny_config, tmp_path):
    videos = tmp_path / "lib"
    videos.mkdir()
    for i in range(3):
        write_video(videos / f"v{i}.mp4", [Segment("rocket", 0.5), Segment("camera", 0.5)], fps=12, size=(64, 48))
    made = []

    def inline(count, make_worker):
        made.append(InlineExecutor(count, make_worker))
        return made[-1]

    summary = run_batch([str(videos)], tmp_path / "thumbs", tiny_config, executor=inline)
    assert (summary.done, summary.failed) == (3, 0) and made[0].made == 1
    with Manifest(tmp_path / "thumbs" / DB_NAME, readonly=True) as manifest:
        assert manifest.counts() == {"done": 3}
        assert all(len(list(Path(r.thumbs).iterdir())) == len(r.picks) >= 1 for r in manifest.records())
    again = run_batch([str(videos)], tmp_path / "thumbs", tiny_config, executor=inline)
    assert (again.done, again.skipped, made[1].made) == (0, 3, 0)  # nothing to do: no worker, no model
