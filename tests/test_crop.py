"""Crop placement on real photos: faces kept whole, else the detailed region, else the seed's rule."""

import json

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from streamthumb import ConfigError
from streamthumb.config import Config, OutputConfig
from streamthumb.crop import detail_map, place_crop, place_crops, seed_box, window_size
from streamthumb.faces import HaarFaceDetector
from streamthumb.output import write_thumbnails
from streamthumb.results import CandidateInfo, Crop, Pick, Result, Stats

ASTRONAUT = data.astronaut()
FACE = (178, 68, 94, 94)
"""The astronaut's face as HaarFaceDetector finds it in the 512 x 512 photo."""
GREY = 128


def canvas(height, width, *pastes):
    """A flat grey frame with photos pasted at (x, y); returns it and the face box of each
    pasted astronaut (None for other photos), found from its size."""
    frame = np.full((height, width, 3), GREY, np.uint8)
    faces = []
    for x, y, photo in pastes:
        frame[y : y + photo.shape[0], x : x + photo.shape[1]] = photo
        scale = photo.shape[0] / ASTRONAUT.shape[0]
        faces.append(
            (x + round(FACE[0] * scale), y + round(FACE[1] * scale), round(FACE[2] * scale), round(FACE[3] * scale))
        )
    return frame, faces


def contains(box, face):
    x, y, w, h = box
    fx, fy, fw, fh = face
    return x <= fx and y <= fy and fx + fw <= x + w and fy + fh <= y + h


def cuts(box, face):
    """The window overlaps the face without holding it whole."""
    x, y, w, h = box
    fx, fy, fw, fh = face
    overlaps = fx < x + w and x < fx + fw and fy < y + h and y < fy + fh
    return overlaps and not contains(box, face)


def big(photo, factor=2):
    return np.repeat(np.repeat(photo, factor, axis=0), factor, axis=1)


def texture(name="gravel"):
    return np.dstack([getattr(data, name)()] * 3)


# ---------------------------------------------------------------------------------------- faces


@pytest.mark.parametrize(
    ("shape", "ratio", "at"),
    [
        ((1080, 1920), (9, 16), (1300, 300)),  # wide source, face far right
        ((1080, 1920), (9, 16), (1042, 300)),  # the seed's window ends through the face
        ((1080, 1920), (9, 16), (0, 500)),  # face far left
        ((1080, 1920), (1, 1), (1380, 300)),
        ((1920, 1080), (16, 9), (300, 1350)),  # tall source, face near the bottom
        ((1920, 1080), (16, 9), (500, 0)),  # face at the very top
        ((1920, 1080), (1, 1), (0, 1400)),
    ],
)
def test_crop_keeps_an_off_centre_face_the_seed_rule_would_lose(shape, ratio, at):
    frame, (face,) = canvas(*shape, (*at, ASTRONAUT))
    seed = seed_box(shape[1], shape[0], ratio)
    assert not contains(seed, face)  # the centred crop would cut or drop the face
    crop = place_crop(frame, ratio, [face])
    assert contains(crop.box, face) and crop.placed_by == "faces"
    assert crop.box[2:] == window_size(shape[1], shape[0], ratio) == seed[2:]


def test_the_seed_window_cuts_through_the_face_where_ours_keeps_it():
    frame, (face,) = canvas(1080, 1920, (1042, 300, ASTRONAUT))
    assert cuts(seed_box(1920, 1080, (9, 16)), face)
    assert contains(place_crop(frame, (9, 16), [face]).box, face)


@pytest.mark.parametrize(
    ("shape", "ratio", "at"), [((1080, 1920), (9, 16), (880, 0)), ((1920, 1080), (16, 9), (0, 880))]
)
def test_faces_the_detector_finds_are_kept(shape, ratio, at):
    frame, _ = canvas(*shape, (*at, big(ASTRONAUT)))  # twice the size: a face the cascade finds at 360 px
    (found,) = HaarFaceDetector().detect(torch.from_numpy(frame).permute(2, 0, 1)[None].contiguous())
    assert len(found) == 1
    assert not contains(seed_box(shape[1], shape[0], ratio), found[0])
    assert contains(place_crop(frame, ratio, found).box, found[0])


def test_a_face_sits_a_third_down_in_a_wide_crop_of_a_tall_frame():
    frame, (face,) = canvas(1920, 1080, (300, 700, ASTRONAUT))
    x, y, w, h = place_crop(frame, (16, 9), [face]).box
    assert abs((face[1] + face[3] / 2 - y) / h - 1 / 3) < 0.01  # room for the shoulders below


@pytest.mark.parametrize(
    ("shape", "ratio", "pastes"),
    [
        ((1080, 1920), (1, 1), [(100, 300), (612, 300)]),  # side by side in a wide frame
        ((1920, 1080), (16, 9), [(0, 1000), (540, 1400)]),  # two heights in a tall frame
        ((1080, 1920), (9, 16), [(1000, 100), (1300, 400), (1150, 700)]),  # three half-size
    ],
)
def test_several_faces_that_fit_are_all_kept(shape, ratio, pastes):
    photo = ASTRONAUT if len(pastes) < 3 else ASTRONAUT[::2, ::2]
    frame, faces = canvas(*shape, *[(x, y, photo) for x, y in pastes])
    assert not all(contains(seed_box(shape[1], shape[0], ratio), f) for f in faces)
    crop = place_crop(frame, ratio, faces)
    assert all(contains(crop.box, f) for f in faces), (crop.box, faces)


@pytest.mark.parametrize(
    ("shape", "ratio", "big_at", "small_at"),
    [((1080, 1920), (9, 16), (880, 0), (0, 500)), ((1920, 1080), (16, 9), (0, 880), (500, 0))],
)
def test_faces_that_do_not_fit_keep_the_largest_whole_and_cut_none(shape, ratio, big_at, small_at):
    frame, (large, small) = canvas(*shape, (*big_at, big(ASTRONAUT)), (*small_at, ASTRONAUT))
    assert large[2] == 2 * small[2]
    crop = place_crop(frame, ratio, [small, large])
    assert contains(crop.box, large) and not contains(crop.box, small) and not cuts(crop.box, small)
    assert not contains(seed_box(shape[1], shape[0], ratio), large)


def test_a_face_is_never_cut_when_moving_the_window_avoids_it():
    frame = np.full((1080, 1920, 3), GREY, np.uint8)
    largest, beside, far = (800, 400, 200, 200), (1150, 400, 300, 100), (100, 400, 100, 100)
    # centred on the largest face, a 608-wide window (596..1204) would cut the one beside it
    assert cuts((596, 0, 608, 1080), beside)
    crop = place_crop(frame, (9, 16), [beside, largest, far])
    assert contains(crop.box, largest)
    assert not any(cuts(crop.box, f) for f in (beside, far))


def test_the_window_keeps_more_faces_when_it_can():
    frame = np.full((1080, 1920, 3), GREY, np.uint8)
    largest, near, far = (800, 400, 200, 200), (1150, 400, 100, 100), (100, 400, 100, 100)
    crop = place_crop(frame, (9, 16), [far, largest, near])
    assert contains(crop.box, largest) and contains(crop.box, near) and not cuts(crop.box, far)


def test_a_face_larger_than_the_window_is_centred_on():
    frame = np.full((1080, 1920, 3), GREY, np.uint8)
    x, y, w, h = place_crop(frame, (1, 4), [(1000, 100, 400, 400)]).box
    assert w == 270 and abs(x + w / 2 - 1200) <= 1


# --------------------------------------------------------------------------------------- detail


@pytest.mark.parametrize(
    ("shape", "ratio", "at"),
    [
        ((1080, 1920), (9, 16), (1350, 300)),
        ((1080, 1920), (9, 16), (20, 500)),
        ((1920, 1080), (16, 9), (300, 1380)),
        ((1920, 1080), (16, 9), (500, 30)),
        ((2160, 3840), (1, 1), (3200, 1000)),
    ],
)
def test_without_faces_the_window_lands_on_the_detailed_region(shape, ratio, at):
    patch = texture()
    frame, _ = canvas(*shape, (*at, patch))
    patch_box = (*at, patch.shape[1], patch.shape[0])
    assert not contains(seed_box(shape[1], shape[0], ratio), patch_box)
    crop = place_crop(frame, ratio)
    assert crop.placed_by == "detail" and contains(crop.box, patch_box), crop.box


def test_a_face_free_photo_crop_holds_its_detail():
    frame, _ = canvas(1080, 1920, (1300, 300, data.chelsea()))  # the cat, no face box given
    crop = place_crop(frame, (9, 16))
    assert crop.placed_by == "detail" and contains(crop.box, (1300, 300, 451, 300))


@pytest.mark.parametrize("fill", ["flat", "noise"])
def test_evenly_detailed_or_flat_frames_keep_the_seed_rule(fill):
    rng = np.random.default_rng(0)
    for shape, ratio in [((1080, 1920), (9, 16)), ((1920, 1080), (16, 9))]:
        frame = np.full((*shape, 3), GREY, np.uint8) if fill == "flat" else rng.integers(0, 256, (*shape, 3), np.uint8)
        crop = place_crop(frame, ratio)
        assert crop == Crop(f"{ratio[0]}:{ratio[1]}", seed_box(shape[1], shape[0], ratio), "centre")


def test_a_frame_already_at_the_ratio_is_kept_whole():
    frame, faces = canvas(1080, 1920, (1300, 300, ASTRONAUT))
    assert place_crop(frame, (16, 9), faces).box == (0, 0, 1920, 1080)
    assert place_crop(frame, (16, 9)) == Crop("16:9", (0, 0, 1920, 1080), "centre")


def test_detail_is_measured_once_on_a_small_copy():
    frame = np.zeros((2160, 3840, 3), np.uint8)
    assert max(detail_map(frame).shape) <= 256
    crops = place_crops(frame, [(16, 9), (1, 1), (9, 16)])
    assert [c.ratio for c in crops] == ["16:9", "1:1", "9:16"]


@pytest.mark.parametrize(
    ("size", "ratio", "expected"),
    [
        ((1920, 1080), (9, 16), (608, 1080)),
        ((1080, 1920), (16, 9), (1080, 608)),
        ((1280, 720), (1, 1), (720, 720)),
        ((7, 5), (100, 1), (7, 1)),
    ],
)
def test_window_size_is_the_largest_of_the_ratio(size, ratio, expected):
    assert window_size(*size, ratio) == expected


# ------------------------------------------------------------------------------------ writing


def result_with(image, faces=(), k=1):
    picks = tuple(
        Pick(
            rank=i + 1,
            candidate=CandidateInfo(12.4 + i, i, "shot", 0.5, {}, (), tuple(faces), "picked"),
            fallback=False,
            image=image,
        )
        for i in range(k)
    )
    return Result("v.mp4", 60.0, 25.0, image.shape[1], image.shape[0], (), picks, Stats(0, 0, 0, {}, 0, False, 0, {}))


@pytest.mark.parametrize("shape", [(1920, 1080), (1080, 1920)])
def test_three_ratios_write_three_named_files_per_pick_with_boxes_in_source_pixels(tmp_path, shape):
    at = (300, 1350) if shape[0] > shape[1] else (1300, 300)
    frame, faces = canvas(*shape, (*at, ASTRONAUT))
    res = write_thumbnails(result_with(frame, faces, k=2), tmp_path, OutputConfig(format="png", crop="16:9,1:1,9:16"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{rank:02d}_{t}s_{r}.png" for rank, t in ((1, "00012.400"), (2, "00013.400")) for r in ("16x9", "1x1", "9x16")
    ]
    doc = json.loads(json.dumps(res.to_dict()))
    for pick, entry in zip(res.picks, doc["picks"], strict=True):
        assert entry["path"] == pick.crops[0].path == entry["crops"][0]["path"]
        assert [c["ratio"] for c in entry["crops"]] == ["16:9", "1:1", "9:16"]
        for crop in entry["crops"]:
            x, y, w, h = crop["box"]
            assert 0 <= x and 0 <= y and x + w <= shape[1] and y + h <= shape[0]
            rw, rh = map(int, crop["ratio"].split(":"))
            assert abs(w / h - rw / rh) < 0.01
            assert crop["placed_by"] == "faces" and contains(crop["box"], faces[0])
            written = cv2.imread(crop["path"])[:, :, ::-1]
            assert np.array_equal(written, frame[y : y + h, x : x + w])  # the box is where the pixels came from


def test_without_crop_the_whole_frame_is_written_and_crops_are_empty(tmp_path):
    frame, faces = canvas(1080, 1920, (1300, 300, ASTRONAUT))
    res = write_thumbnails(result_with(frame, faces), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["01_00012.400s.jpg"]
    assert res.picks[0].crops == () and res.to_dict()["picks"][0]["crops"] == []


def test_a_crop_box_outside_the_frame_is_refused():
    frame = np.zeros((90, 160, 3), np.uint8)
    with pytest.raises(ValueError, match="leaves the 160x90 frame"):
        Pick(
            1,
            CandidateInfo(0.0, 0, "shot", 0.0, {}, (), (), "picked"),
            False,
            frame,
            crops=(Crop("1:1", (100, 0, 90, 90), "centre"),),
        )
    with pytest.raises(ValueError, match="Crop.box"):
        Crop("1:1", (0, 0, 0, 90), "centre")


# ------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("16:9", ("16:9",)),
        ("16:9,1:1,9:16", ("16:9", "1:1", "9:16")),
        (" 16:9 , 9:16 ", ("16:9", "9:16")),
        (["16:9", "1:1"], ("16:9", "1:1")),
        (["16:9,1:1", "4:5"], ("16:9", "1:1", "4:5")),
        ("16:09", ("16:9",)),
        ("", None),
        ([], None),
        (None, None),
    ],
)
def test_crop_takes_one_ratio_a_comma_list_or_a_list(value, expected):
    cfg = Config().with_overrides({"output.crop": value})
    assert cfg.output.crop == expected
    assert cfg.output.crop_ratios == (
        () if expected is None else tuple(tuple(map(int, r.split(":"))) for r in expected)
    )
    assert OutputConfig(crop=value).crop == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("wide", r"output.crop must look like 16:9, got 'wide'$"),
        ("16:9,wide", r"output.crop must look like 16:9, got 'wide' in '16:9,wide'"),
        (["16:9", "0:1"], r"output.crop must look like 16:9, got '0:1'"),
        ("16:9,", r"output.crop must look like 16:9, got ''"),
        ("16:9,16:9", r"output.crop lists 16:9 twice"),
        ("16x9", r"output.crop must look like 16:9, got '16x9'"),
    ],
)
def test_bad_crop_ratios_are_rejected_by_name(value, match):
    with pytest.raises(ConfigError, match=match):
        Config().with_overrides({"output.crop": value})


def test_crop_in_yaml_as_a_string_or_a_list(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text('output:\n  crop: "9:16"\n')
    assert Config.from_yaml(path).output.crop_ratios == ((9, 16),)
    path.write_text('output:\n  crop: ["16:9", "1:1", "9:16"]\n')
    assert Config.from_yaml(path).output.crop_ratios == ((16, 9), (1, 1), (9, 16))
    path.write_text("output:\n  crop: 16:9,1:1\n")
    assert Config.from_yaml(path).output.crop == ("16:9", "1:1")
    assert Config.from_dict(Config.from_yaml(path).to_dict()) == Config.from_yaml(path)
