"""The Ray engine on a local cluster the tests start: same rows and picks as the local engine,
workers and scorers killed mid-run, a poison pill, a SIGKILLed driver, flat driver memory.

Faults come from ``ray_hooks``: every Ray worker runs it at start-up, so a video named
``poison*`` kills whichever worker takes it and ``slow*`` keeps a worker busy long enough to be
killed mid-video.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import sigkill_when
from streamthumb import ConfigError, ModelError, cli
from streamthumb.batch import VideoDone, run_batch
from streamthumb.library import DB_NAME, Manifest
from synthetic import Segment, write_video

ray = pytest.importorskip("ray")

from streamthumb.ray_engine import RayExecutor, RayOptions  # noqa: E402  (needs ray)

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
RUNTIME_ENV = {
    "worker_process_setup_hook": "ray_hooks.setup",
    "env_vars": {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])},
}
SHOTS = [Segment("rocket", 0.6), Segment("camera", 0.6)]


@pytest.fixture(scope="module")
def flags(tmp_path_factory) -> Path:
    """A folder whose files switch on ``ray_hooks``' faults in the module's workers."""
    return tmp_path_factory.mktemp("ray-flags")


@pytest.fixture(scope="module")
def cluster(flags):
    """A two-CPU local Ray cluster for the module: room for one scorer and one decoder."""
    env = {**RUNTIME_ENV, "env_vars": {**RUNTIME_ENV["env_vars"], "STREAMTHUMB_TEST_FLAGS": str(flags)}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    yield
    ray.shutdown()


def library(folder: Path, names: list[str], shots: list[Segment] = SHOTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_video(folder / f"{name}.mp4", shots, fps=12, size=(64, 48))
    return folder


def on_ray(config, options=None, made=None):
    """An executor factory that keeps the executor it made, for tests that kill its actors."""

    def factory(count, make_worker):
        executor = RayExecutor(count, make_worker, config=config, options=options or RayOptions())
        if made is not None:
            made.append(executor)
        return executor

    return factory


def rows(db: Path) -> dict[str, tuple]:
    with Manifest(db, readonly=True) as manifest:
        return {
            Path(r.path).name: (r.status, r.error, tuple((p["rank"], p["t"]) for p in r.picks))
            for r in manifest.records()
        }


def test_the_same_library_gives_the_same_rows_and_picks_as_the_local_engine(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a", "b", "c"])
    (lib / "broken.mp4").write_bytes(b"not a video at all")
    local = run_batch([str(lib)], tmp_path / "local", tiny_config, workers=1)
    made: list[RayExecutor] = []
    remote = run_batch([str(lib)], tmp_path / "ray", tiny_config, workers=1, executor=on_ray(tiny_config, made=made))
    assert (remote.done, remote.failed) == (local.done, local.failed) == (3, 1)
    theirs, ours = rows(tmp_path / "local" / DB_NAME), rows(tmp_path / "ray" / DB_NAME)
    assert ours.keys() == theirs.keys()
    for name, (status, error, picks) in theirs.items():
        assert ours[name][0] == status
        assert (ours[name][1] or "").replace(str(tmp_path / "ray"), "") == (error or "").replace(
            str(tmp_path / "local"), ""
        )
        assert [rank for rank, _ in ours[name][2]] == [rank for rank, _ in picks]
        assert [t for _, t in ours[name][2]] == pytest.approx([t for _, t in picks])
    assert remote.scorer_busy_s > 0 and remote.mean_batch > 0  # the scorers' own counts came back
    assert made[0].peak_in_flight <= 1  # one video per decoder: backpressure


def test_the_engines_resume_each_others_manifests(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a", "b"])
    first = run_batch([str(lib / "a.mp4")], tmp_path / "out", tiny_config, workers=1)
    assert first.done == 1
    second = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config))
    assert (second.done, second.skipped) == (1, 1)
    third = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1)
    assert (third.done, third.skipped) == (0, 2)


def kill_after_first(made, which):
    """A ``VideoDone`` subscriber that kills the executor's decoder or scorer once, mid-run."""
    killed = []

    def on_event(event: VideoDone) -> None:
        if not killed and event.status == "done":
            executor = made[0]
            actor = executor._decoders[0] if which == "decoder" else executor._scorers[0]
            ray.kill(actor, no_restart=which == "decoder")
            killed.append(time.monotonic())

    return on_event, killed


@pytest.mark.parametrize("which", ["decoder", "scorer"])
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(which, cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a", "slow1", "slow2", "slow3"])
    made: list[RayExecutor] = []
    on_event, killed = kill_after_first(made, which)
    summary = run_batch(
        [str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config, made=made), on_event=on_event
    )
    assert killed, "nothing was killed"
    assert (summary.done, summary.failed) == (4, 0), summary.failures
    with Manifest(tmp_path / "out" / DB_NAME, readonly=True) as manifest:
        assert manifest.counts() == {"done": 4}
        for record in manifest.records():
            assert sorted(p.name for p in Path(record.thumbs).iterdir()) == sorted(
                Path(p["path"]).name for p in record.picks
            )  # no file twice, none missing
    if which == "decoder":
        assert made[0].restarts >= 1


def test_a_poison_pill_ends_failed_and_the_run_goes_on(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a", "poison", "b"])
    made: list[RayExecutor] = []
    options = RayOptions(retries=1)
    summary = run_batch(
        [str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config, options, made)
    )
    assert (summary.done, summary.failed) == (2, 1)
    (failure,) = summary.failures
    assert failure.path.endswith("poison.mp4")
    assert "gave up after 2 attempts" in failure.reason and "worker died" in failure.reason
    assert made[0].restarts == 2
    assert rows(tmp_path / "out" / DB_NAME)["poison.mp4"][0] == "failed"


def test_a_scorer_that_cannot_load_its_model_fails_the_run_in_one_line(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a"])
    broken = tiny_config.with_overrides({"scoring.model": f"local-dir:{tmp_path / 'no-such-model'}"})
    with pytest.raises(ModelError) as info:
        run_batch([str(lib)], tmp_path / "out", broken, workers=1, executor=on_ray(broken))
    assert "no-such-model" in str(info.value) and "\n" not in str(info.value)


def test_a_cluster_too_small_for_the_actors_is_refused(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a"])
    with pytest.raises(ConfigError, match="2 CPUs"):
        run_batch([str(lib)], tmp_path / "out", tiny_config, workers=3, executor=on_ray(tiny_config))


def test_driver_memory_stays_flat_over_a_long_library(cluster, tiny_config, tmp_path):
    """200 videos hold the driver no more than 20 do: results are committed as they arrive."""
    source = library(tmp_path / "src", ["v"], [Segment("rocket", 0.4)]) / "v.mp4"
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(220):
        os.link(source, lib / f"v{i:03}.mp4")  # distinct paths, one file: cheap to make
    made: list[RayExecutor] = []
    factory = on_ray(tiny_config, made=made)
    first = sorted(lib.iterdir())[:20]
    run_batch([str(p) for p in first], tmp_path / "out", tiny_config, workers=1, executor=factory)
    after_20 = _rss_mb()
    summary = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1, executor=factory)
    assert (summary.done, summary.skipped) == (200, 20)
    assert _rss_mb() - after_20 < 40, "the driver's memory grew with the library"
    assert max(e.peak_in_flight for e in made) <= 1


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


DRIVER = textwrap.dedent(
    """
    import json, sys
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=json.loads(sys.argv[1]))
    from streamthumb import cli
    sys.exit(cli.main(sys.argv[2:]))
    """
)


def test_sigkill_of_the_driver_then_rerun_resumes_exactly(tiny_clip_dir, tmp_path):
    """The driver is the manifest's one writer: killed, it leaves pending rows, redone once."""
    import json

    lib = library(tmp_path / "lib", [f"slow{i}" for i in range(4)])
    out = tmp_path / "out"
    argv = [
        "batch", str(lib), "--out", str(out), "--engine", "ray", "--workers", "1", "--quiet",
        "--model", f"local-dir:{tiny_clip_dir}", "--device", "cpu",
    ]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(RUNTIME_ENV), *argv], stderr=subprocess.PIPE)
    both = {"done", "pending"}  # between a commit and the next row, there may be no pending one
    sigkill_when(proc, lambda: both <= _statuses(out / DB_NAME), what="a finished video and one in flight")
    killed = rows(out / DB_NAME)
    assert any(status == "pending" for status, _, _ in killed.values())
    assert cli.main([*argv[:4], "--engine", "local", *argv[6:]]) == 0  # the other engine finishes it
    final = rows(out / DB_NAME)
    assert {status for status, _, _ in final.values()} == {"done"} and len(final) == 4
    assert all(final[name] == row for name, row in killed.items() if row[0] == "done")  # left alone


def _statuses(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with Manifest(db, readonly=True) as manifest:
            return {r.status for r in manifest.records()}
    except Exception:  # the driver is creating it
        return set()


def test_engine_ray_without_the_extra_says_how_to_install_it(monkeypatch, tiny_clip_dir, tmp_path, capsys):
    lib = library(tmp_path / "lib", ["a"])
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as without the extra
    monkeypatch.delitem(sys.modules, "streamthumb.ray_engine")
    code = cli.main(["batch", str(lib), "--out", str(tmp_path / "out"), "--engine", "ray", "--quiet"])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert 'pip install -e ".[ray]"' in line


def test_urls_are_inputs_on_every_engine_and_done_ones_are_skipped(cluster, tiny_config, tmp_path):
    """On a cluster the inputs are what every node can read: shared paths, or URLs."""
    from bench.loopback import file_server

    lib = library(tmp_path / "lib", ["a", "b"])
    with file_server(lib) as root:
        listing = tmp_path / "urls.txt"
        listing.write_text(f"{root}/a.mp4\n{root}/missing.mp4\n")
        inputs = [f"{root}/b.mp4", f"@{listing}"]
        summary = run_batch(inputs, tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config))
        assert (summary.done, summary.failed) == (2, 1)
        with Manifest(tmp_path / "out" / DB_NAME, readonly=True) as manifest:
            keys = {r.path: r.status for r in manifest.records()}
        assert keys == {f"{root}/a.mp4": "done", f"{root}/b.mp4": "done", f"{root}/missing.mp4": "failed"}
        again = run_batch(inputs, tmp_path / "out", tiny_config, workers=1)  # the local engine, the same rows
        assert (again.done, again.skipped) == (0, 3)


def test_a_video_stuck_past_its_timeout_is_stopped_and_recorded(cluster, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a", "stuck"])
    options = RayOptions(retries=0, video_timeout_s=8.0)  # "stuck" hangs for a minute
    summary = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config, options))
    assert (summary.done, summary.failed) == (1, 1)
    (failure,) = summary.failures
    assert failure.path.endswith("stuck.mp4") and "took longer than 8 s" in failure.reason


def test_a_decoder_slow_to_start_does_not_use_up_its_video_s_timeout(cluster, flags, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a"])
    (flags / "slow-boot").write_text("10")
    try:
        options = RayOptions(retries=0, video_timeout_s=8.0)  # shorter than the start-up
        summary = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config, options))
    finally:
        (flags / "slow-boot").unlink()
    assert (summary.done, summary.failed) == (1, 0), summary.failures


def test_a_decoder_that_never_starts_fails_its_video_after_the_startup_timeout(cluster, flags, tiny_config, tmp_path):
    lib = library(tmp_path / "lib", ["a"])
    (flags / "slow-boot").write_text("60")  # as a decoder Ray can never place
    try:
        options = RayOptions(retries=0, startup_timeout_s=10.0)
        summary = run_batch([str(lib)], tmp_path / "out", tiny_config, workers=1, executor=on_ray(tiny_config, options))
    finally:
        (flags / "slow-boot").unlink()
    assert (summary.done, summary.failed) == (0, 1)
    (failure,) = summary.failures
    assert "gave up after 1 attempt: its decoder did not start within 10 s" in failure.reason
