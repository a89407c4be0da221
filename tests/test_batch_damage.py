"""Batch mode on damaged media that still decodes: done, but recorded and reported as damaged."""

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from streamthumb import cli
from streamthumb.batch import format_summary, run_batch
from streamthumb.library import DB_NAME, Manifest
from synthetic import Segment, write_video


def truncated_mkv(path: Path) -> Path:
    """The first 40 % of an MKV: a few frames decode, then the file ends."""
    write_video(path, [Segment("astronaut", 1.5), Segment("coffee", 1.5)], fps=12, size=(96, 72))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


def corrupt_mp4(path: Path) -> Path:
    """Random bytes over some packets in the middle, as ``test_decode`` makes them."""
    write_video(
        path, [Segment("astronaut", 2.0), Segment("coffee", 2.0)], fps=12, size=(160, 120), pix_fmt="yuv420p10le"
    )
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for offset in range(len(data) // 4, 3 * len(data) // 4, len(data) // 20):
        data[offset : offset + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damaged")
    truncated_mkv(root / "clip.mkv")
    corrupt_mp4(root / "x.mp4")
    write_video(root / "fine.mp4", [Segment("rocket", 0.6), Segment("camera", 0.6)], fps=12, size=(96, 72))
    return root


def test_damaged_videos_are_done_recorded_and_warned(damaged, tiny_config, tmp_path):
    out = tmp_path / "thumbs"
    summary = run_batch([str(damaged)], out, tiny_config.with_overrides({"select.k": 1}))
    assert (summary.done, summary.failed, summary.exit_code) == (3, 0, 0)  # a warning is not a failure
    with Manifest(out / DB_NAME, readonly=True) as manifest:
        rows = {Path(r.path).name: r for r in manifest.records()}
    assert rows["clip.mkv"].truncated is True
    assert rows["x.mp4"].corrupt_packets > 0 and rows["x.mp4"].truncated is False
    assert (rows["fine.mp4"].truncated, rows["fine.mp4"].corrupt_packets) == (False, 0)
    n = rows["x.mp4"].corrupt_packets
    assert summary.warning_count == 2
    assert summary.warnings == (
        f"{damaged / 'clip.mkv'}: truncated (the video ended early)",
        f"{damaged / 'x.mp4'}: {n} corrupt packets skipped",
    )
    text = format_summary(summary)
    assert "3 done, 0 skipped, 0 failed, 2 warnings" in text
    assert f"  warnings:\n    {summary.warnings[0]}\n    {summary.warnings[1]}\n" in text


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_has_the_damage_columns(damaged, tiny_yaml_k1, tmp_path, fmt):
    out = tmp_path / "thumbs"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert cli.main(["batch", str(damaged / "clip.mkv"), "--out", str(out), "--config", str(tiny_yaml_k1)]) == 0
    assert "clip.mkv: truncated (the video ended early)" in err.getvalue()
    with contextlib.redirect_stdout(io.StringIO()) as exported:
        assert cli.main(["export", "--db", str(out / DB_NAME), "--format", fmt]) == 0
    if fmt == "csv":
        (cells,) = csv.DictReader(io.StringIO(exported.getvalue(), newline=""))
        assert (cells["truncated"], cells["corrupt_packets"]) == ("1", "0")
    else:
        doc = json.loads(exported.getvalue())
        assert (doc["truncated"], doc["corrupt_packets"]) == (True, 0)


@pytest.fixture(scope="module")
def tiny_yaml_k1(tiny_config, tmp_path_factory) -> Path:
    import yaml

    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config.with_overrides({"select.k": 1}).to_dict()))
    return path
