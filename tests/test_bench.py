"""The benchmark harness (``bench/``) on a tiny video: report shape, not timings."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ lives beside the package, not inside it

from bench import BenchOptions, ModelSpec, Task, markdown, run_benchmark, spawn  # noqa: E402
from bench.__main__ import _parser, options_from  # noqa: E402
from bench.contenders import run  # noqa: E402
from synthetic import Segment, write_video  # noqa: E402

HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
RATIOS = ("seed_speedup", "efficiency", "keyframes_seed_speedup")


@pytest.fixture(scope="module")
def tiny_video(media: Path) -> Path:
    path = media / "bench-tiny.mp4"
    write_video(path, [Segment("astronaut", 2.0), Segment("coffee", 1.0), Segment("camera", 1.0)], size=(192, 144))
    return path


@pytest.fixture(scope="module")
def report(tiny_video: Path, tiny_clip_dir: Path) -> dict:
    # In-process keeps this test fast; the fresh-process path is covered by test_spawn_*.
    options = BenchOptions(files=(tiny_video,), model=f"local-dir:{tiny_clip_dir}", device="cpu", isolate=False)
    return json.loads(json.dumps(run_benchmark(options, log=lambda _: None)))  # must survive JSON


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_report_has_every_contender(report: dict) -> None:
    (video,) = report["videos"]
    contenders = video["contenders"]
    expected = ["decode_floor", "streamthumb", "encode_floor", "keyframes", "cold_pick"]
    expected += ["seed", "ffmpeg_thumbnail"] if HAS_FFMPEG else []
    for name in expected:
        assert "error" not in contenders[name], contenders[name].get("error")
        assert _positive(contenders[name]["wall_s"]), name
        assert _positive(contenders[name]["realtime"]), name
    assert contenders["decode_floor"]["frames"] == video["frames"] == 100
    assert contenders["encode_floor"]["images"] == contenders["streamthumb"]["candidates"] > 0
    assert {"decode", "clip", "total"} <= set(contenders["streamthumb"]["timings"])
    assert report["streamthumb"]["version"]
    # The whole-process pick pays the interpreter, imports and model load the others do not.
    assert (
        contenders["cold_pick"]["whole_process"]
        and contenders["cold_pick"]["wall_s"] > contenders["keyframes"]["wall_s"]
    )
    peer = contenders["ffmpegthumbnailer"]
    assert "wall_s" in peer or "ffmpegthumbnailer" in peer["skipped"]


def test_report_has_ratios(report: dict) -> None:
    (video,) = report["videos"]
    keys = ["efficiency"] + (["seed_speedup", "keyframes_seed_speedup"] if HAS_FFMPEG else [])
    for key in keys:
        assert _positive(video["ratios"][key]), key
        assert _positive(report[key]), key
    assert video["ratios"]["ideal_rule"] == "decode_floor + encode_floor"


@pytest.mark.skipif(HAS_FFMPEG, reason="ffmpeg is installed")
def test_seed_skipped_without_ffmpeg(report: dict) -> None:
    seed = report["videos"][0]["contenders"]["seed"]
    assert "ffmpeg" in seed["skipped"]
    assert report["seed_speedup"] is None


def test_real_weights_are_not_labelled_random(report: dict) -> None:
    assert report["model"]["random_weights"] is False
    assert "RANDOM" not in markdown(report)


def test_markdown_lists_contenders_and_ratios(report: dict) -> None:
    text = markdown(report)
    for word in ("decode floor", "encode floor", "streamthumb", "keyframes", "efficiency", "Cold start"):
        assert word in text


def test_random_weights_are_announced() -> None:
    spec = ModelSpec("ViT-B-32")
    assert spec.random_weights and "RANDOM" in spec.weights
    assert not ModelSpec("ViT-B-32", pretrained="laion2b_s34b_b79k").random_weights


def test_spawn_measures_a_fresh_process(tiny_video: Path) -> None:
    result = spawn(Task("decode_floor", str(tiny_video)))
    assert result["frames"] == 100
    assert _positive(result["peak_rss_mb"])


def test_spawn_reports_worker_errors(tmp_path: Path) -> None:
    result = spawn(Task("decode_floor", str(tmp_path / "missing.mp4")))
    assert "error" in result and "wall_s" not in result


def test_repeat_keeps_the_fastest_run(tiny_video: Path, tiny_clip_dir: Path) -> None:
    options = BenchOptions(
        files=(tiny_video,),
        model=f"local-dir:{tiny_clip_dir}",
        device="cpu",
        contenders=("encode_floor", "decode_floor", "streamthumb"),  # the encode floor still runs after streamthumb
        repeat=2,
        isolate=False,
    )
    report = run_benchmark(options, log=lambda _: None)
    contenders = report["videos"][0]["contenders"]
    for name in ("encode_floor", "decode_floor", "streamthumb"):
        assert len(contenders[name]["runs_s"]) == 2
        assert contenders[name]["wall_s"] == min(contenders[name]["runs_s"])
    runs = contenders["streamthumb"]["runs_s"]
    spread = f"+{(max(runs) - min(runs)) / min(runs):.0%} of 2"
    assert spread in markdown(report)  # the rounds' spread is shown, so noise reads as noise
    decode, encode = contenders["decode_floor"]["runs_s"], contenders["encode_floor"]["runs_s"]
    by_round = [(decode[i] + encode[i]) / runs[i] for i in range(2)]  # each round's own efficiency
    assert [r["efficiency"] for r in report["videos"][0]["rounds"]] == pytest.approx(by_round)
    assert f"efficiency: {by_round[0]:.2f}, {by_round[1]:.2f}" in markdown(report)


def test_encoder_sweep_reports_every_point(tiny_clip_dir: Path) -> None:
    # The sweep is meant for CUDA; on the CPU it runs the same code with CPU precisions.
    task = Task("encoder_sweep", model=ModelSpec(f"local-dir:{tiny_clip_dir}"), batches=(1, 4))
    rows = run(task)["sweep"]
    assert [(r["precision"], r["batch"]) for r in rows] == [("fp32", 1), ("fp32", 4), ("bf16", 1), ("bf16", 4)]
    assert all(_positive(r["images_per_s"]) for r in rows)


def test_missing_hwaccel_is_a_clear_error(tiny_video: Path) -> None:
    with pytest.raises(RuntimeError, match="hwaccel|hardware decoder"):
        run(Task("decode_floor", str(tiny_video), hwaccel="no-such-device"))


def test_cli_options() -> None:
    quick = options_from(_parser().parse_args(["--quick"]), ["--quick"])
    assert len(quick.specs) == 1 and quick.memory is None
    full = options_from(_parser().parse_args([]), [])
    assert full.memory is not None and full.memory[0].height == full.memory[1].height
    assert "seed" not in options_from(_parser().parse_args(["--no-seed"]), []).contenders
