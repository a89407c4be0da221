"""Black bars: letterboxed and pillarboxed video is judged and written without them."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from badframes import Clip, good, photo_frame, write_clips

from streamthumb import Config, pick
from streamthumb.borders import find_picture, to_frame
from streamthumb.config import CandidatesConfig

CONFIG = Config().with_overrides({"scoring.model": "none", "runtime.device": "cpu", "select.k": 3})
PHOTOS = ("coffee", "chelsea", "rocket", "astronaut", "camera")


def boxed(picture: np.ndarray, width: int = 640, height: int = 360, noise: int = 12) -> np.ndarray:
    """``picture`` centred in a (height, width) frame of compression-like near-black."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, noise + 1, size=(height, width, 3), dtype=np.uint8)
    h, w = picture.shape[:2]
    y, x = (height - h) // 2, (width - w) // 2
    frame[y : y + h, x : x + w] = picture
    return frame


def view(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((640, 268), (0, 47, 640, 266)),  # a 2.39:1 film in 16:9 (a line off each trimmed side)
        ((480, 360), (81, 0, 478, 360)),  # 4:3 archive in 16:9
        ((202, 360), (220, 0, 200, 360)),  # vertical phone video in 16:9
        ((480, 300), (81, 31, 478, 298)),  # windowboxed: bars on all four sides
    ],
)
def test_the_picture_inside_the_bars_is_found(size, expected):
    frame = boxed(photo_frame("coffee", *size))
    frame[5, 100:102] = 255  # a hot pixel or two in a bar is still bar
    assert find_picture(view(frame), CandidatesConfig()) == expected


@pytest.mark.parametrize(
    "case",
    ["full_frame", "dark_sky_on_one_edge", "thin_bars", "black_frame", "night_scene_with_lights", "text_on_black"],
)
def test_frames_without_a_pair_of_bars_keep_the_whole_frame(case):
    frame = photo_frame("coffee")
    if case == "dark_sky_on_one_edge":
        frame[:80] = 5
    elif case == "thin_bars":
        frame = boxed(photo_frame("coffee", 640, 356))  # 2 rows each side: under 2 %
    elif case == "black_frame":
        frame = boxed(photo_frame("coffee", 40, 40))  # nearly all black: exposure's business
    elif case == "night_scene_with_lights":
        frame[:60] = 4
        frame[-60:] = 4
        frame[:60, ::40] = 200  # street lights along the top and bottom lines
        frame[-60:, ::40] = 200
    elif case == "text_on_black":
        frame = np.zeros_like(frame)
        for row in range(100, 260, 40):  # four lines of white text in the middle
            cv2.putText(frame, "THE END  directed by", (120, row), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255,) * 3, 2)
    assert find_picture(view(frame), CandidatesConfig()) is None


def test_boxes_scale_from_view_to_frame_pixels():
    assert to_frame((219, 0, 202, 360), (640, 360), (1920, 1080)) == (657, 0, 606, 1080)
    assert to_frame((0, 46, 640, 268), (640, 360), (1281, 721)) == (0, 92, 1281, 537)


def boxed_video(path: Path, size: tuple[int, int], frame: tuple[int, int] = (640, 360)) -> None:
    """Five photo shots of ``size`` in black bars filling ``frame`` (no bars when equal)."""
    clips = [
        Clip("good", 3.0, lambda n, w, h, name=name, i=i: (boxed(f, w, h) for f in good(name, n, *size, seed=i)))
        for i, name in enumerate(PHOTOS)
    ]
    write_clips(path, clips, size=frame)


@pytest.mark.parametrize("size", [(640, 268), (204, 360)], ids=["letterbox", "pillarbox"])
def test_picks_of_boxed_video_are_the_picture_without_its_bars(tmp_path, size):
    boxed_video(tmp_path / "boxed.mp4", size)
    result = pick(tmp_path / "boxed.mp4", CONFIG)
    assert len(result.picks) == 3
    for p in result.picks:
        height, width = p.image.shape[:2]
        assert abs(width - size[0]) <= 6 and abs(height - size[1]) <= 6
        assert p.candidate.picture is not None and p.candidate.picture[2:] == (width, height)
        luma = p.image.max(axis=2)
        edges = (luma[0], luma[-1], luma[:, 0], luma[:, -1])
        assert all((edge > 32).mean() > 0.05 for edge in edges), "a bar was left on an edge"


def test_the_filters_measure_a_letterboxed_picture_as_the_picture_alone(tmp_path):
    boxed_video(tmp_path / "boxed.mp4", (640, 268))
    boxed_video(tmp_path / "bare.mp4", (640, 268), frame=(640, 268))
    trimmed = {round(c.t, 2): c.signals for c in pick(tmp_path / "boxed.mp4", CONFIG).candidates}
    bare = {round(c.t, 2): c.signals for c in pick(tmp_path / "bare.mp4", CONFIG).candidates}
    same = sorted(set(trimmed) & set(bare))
    assert len(same) >= 5
    for t in same:
        assert abs(trimmed[t]["brightness"] - bare[t]["brightness"]) < 3, t  # bars would take a quarter off
        assert trimmed[t]["sharpness"] == pytest.approx(bare[t]["sharpness"], rel=0.15), t


def test_trimming_can_be_turned_off(tmp_path):
    boxed_video(tmp_path / "boxed.mp4", (640, 268))
    result = pick(tmp_path / "boxed.mp4", CONFIG.with_overrides({"candidates.trim_borders": False}))
    assert {p.image.shape[:2] for p in result.picks} == {(360, 640)}
    assert all(c.picture is None for c in result.candidates)


def test_faces_in_a_pillarboxed_video_are_in_the_pictures_pixels(tmp_path):
    portrait = photo_frame("astronaut", 270, 360)  # her face sits in the upper middle
    clips = [Clip("good", 2.0, lambda n, w, h: (boxed(portrait, w, h) for _ in range(n)))]
    write_clips(tmp_path / "portrait.mp4", clips)
    result = pick(tmp_path / "portrait.mp4", CONFIG.with_overrides({"select.k": 1}))
    (best,) = result.picks
    height, width = best.image.shape[:2]
    assert height == 360 and abs(width - 270) <= 4 and best.faces
    x, y, w, h = max(best.faces, key=lambda b: b[2] * b[3])
    assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    assert 60 < x + w / 2 < 210, "the face box is in frame pixels, not the picture's"
