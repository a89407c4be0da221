import os

import cv2
import numpy as np
import pytest

from streamthumb import OutputError
from streamthumb.config import OutputConfig
from streamthumb.crop import seed_box
from streamthumb.output import thumbnail_name, write_thumbnails
from streamthumb.results import CandidateInfo, Pick, Result, Stats

STATS = Stats(0, 0, 0, {}, 0, False, 0, {})


def info(t: float, shot: int, score: float) -> CandidateInfo:
    return CandidateInfo(t, shot, "uniform", score, {"clip": 0.1, "sharpness": 100.0}, (), (), "picked")


def result_with(images):
    picks = tuple(
        Pick(rank=i + 1, candidate=info(1.5 * i, i, 1.0 - i / 10), fallback=False, image=im)
        for i, im in enumerate(images)
    )
    return Result("v.mp4", 10.0, 25.0, images[0].shape[1], images[0].shape[0], (), picks, STATS)


def gradient(h=90, w=160):
    return np.dstack([np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))] * 3)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_files_are_named_by_rank_and_time_and_decode(tmp_path, fmt):
    res = write_thumbnails(result_with([gradient(), gradient()]), tmp_path / "out", OutputConfig(format=fmt))
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [thumbnail_name(1, 0.0, fmt), thumbnail_name(2, 1.5, fmt)]
    assert names[0].startswith("01_0000") and names[1].startswith("02_00001.500s")
    for p in res.picks:
        img = cv2.imread(p.path)
        assert img.shape == (90, 160, 3)
        assert np.abs(img[:, :, ::-1].astype(int) - p.image.astype(int)).mean() < 4


@pytest.mark.parametrize(
    ("shape", "ratio", "expected"),
    [
        ((1080, 1920), (9, 16), (1080, 608)),
        ((1920, 1080), (16, 9), (608, 1080)),
        ((720, 1280), (1, 1), (720, 720)),
        ((720, 1280), (16, 9), (720, 1280)),
    ],
)
def test_seed_crop_window(shape, ratio, expected):
    x, y, w, h = seed_box(shape[1], shape[0], ratio)
    assert (h, w) == expected


def test_tall_to_wide_crop_keeps_the_upper_third():
    rows = np.broadcast_to(np.arange(1600).reshape(-1, 1, 1), (1600, 900, 3))  # pixel = its row
    x, y, w, h = seed_box(900, 1600, (16, 9))
    out = rows[y : y + h, x : x + w]
    assert out.shape[:2] == (506, 900)
    assert out[0, 0, 0] == 320  # starts 20 % down: faces in vertical video sit high


def test_no_partial_files_when_writing_fails(tmp_path, monkeypatch):
    out = tmp_path / "out"

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputError, match="No space left"):
        write_thumbnails(result_with([gradient()]), out)
    assert os.listdir(out) == []  # the temp file was removed, nothing half-written remains


def test_unwritable_folder_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create output folder"):
        write_thumbnails(result_with([gradient()]), blocker / "sub")


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_thumbnails(result_with([gradient()]), tmp_path / "out")
    finally:
        os.umask(old)
    (path,) = (tmp_path / "out").iterdir()
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_new_result_replaces_only_our_earlier_thumbnails(tmp_path):
    out = tmp_path / "out"
    write_thumbnails(result_with([gradient()] * 3), out)
    (out / "notes.txt").write_text("mine")
    (out / "01_holiday.jpg").write_bytes(b"not ours")
    res = write_thumbnails(result_with([gradient()]), out, OutputConfig(format="png"))
    assert sorted(os.listdir(out)) == sorted(["notes.txt", "01_holiday.jpg", os.path.basename(res.picks[0].path)])


def test_crop_names_carry_the_ratio():
    assert thumbnail_name(1, 12.4, "jpeg", (16, 9)) == "01_00012.400s_16x9.jpg"
    assert thumbnail_name(12, 3725.0, "webp", (9, 16)) == "12_03725.000s_9x16.webp"


def test_a_new_result_replaces_our_earlier_crops_and_whole_frames(tmp_path):
    out = tmp_path / "out"
    three = OutputConfig(crop="16:9,1:1,9:16")
    write_thumbnails(result_with([gradient()] * 3), out, three)
    assert len(os.listdir(out)) == 9
    mine = ["notes.txt", "01_holiday.jpg", "01_00000.000s_wide.jpg", "01_00000.000s_16x9.txt"]
    for name in mine:
        (out / name).write_bytes(b"not ours")
    res = write_thumbnails(result_with([gradient()]), out)  # crops to whole frames, 3 picks to 1
    assert sorted(os.listdir(out)) == sorted([*mine, "01_00000.000s.jpg"]) and res.picks[0].crops == ()
    res = write_thumbnails(result_with([gradient()] * 2), out, OutputConfig(format="png", crop=("1:1",)))
    assert sorted(os.listdir(out)) == sorted([*mine, "01_00000.000s_1x1.png", "02_00001.500s_1x1.png"])
    assert [os.path.basename(p.path) for p in res.picks] == ["01_00000.000s_1x1.png", "02_00001.500s_1x1.png"]


def test_prepared_folder_removes_what_it_created_when_the_work_fails(tmp_path):
    from streamthumb.output import prepared_folder

    target = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError), prepared_folder(target):
        raise RuntimeError("decode failed")
    assert not (tmp_path / "a").exists()
    with prepared_folder(target) as folder:
        assert folder == target and target.is_dir() and os.listdir(target) == []
    assert target.is_dir()
