"""The face bonus on candidates: size, cut faces, closed eyes, and what it records."""

import cv2
import numpy as np
import pytest
import torch
from test_faces import ASTRONAUT, cameraman, painted_eyes

from streamthumb.config import Config
from streamthumb.faces import FaceDetector, HaarFaceDetector
from streamthumb.filters import FaceBonus
from streamthumb.record import Candidate

CONFIG = Config()
FACES = CONFIG.faces


def candidate(frame: np.ndarray, view: np.ndarray | None = None) -> Candidate:
    view = frame if view is None else view
    cand = Candidate(
        index=0,
        t=0.0,
        shot=0,
        origin="uniform",
        frame=np.ascontiguousarray(frame),
        view=torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1).contiguous(),
    )
    cand.score = 0.0
    return cand


def scored(*frames: np.ndarray) -> list[Candidate]:
    cands = [candidate(f) for f in frames]
    FaceBonus(CONFIG).apply(cands)
    return cands


def on_grey(image: np.ndarray, scale: float) -> np.ndarray:
    """The image shrunk by ``scale`` and pasted in the middle of a neutral 640x360 frame."""
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((360, 640, 3), 128, np.uint8)
    y, x = (360 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def test_the_most_it_adds_is_the_bonus():
    assert FaceBonus(CONFIG).maximum == FACES.bonus


def test_a_large_whole_face_with_open_eyes_earns_the_whole_bonus():
    (cand,) = scored(ASTRONAUT[:360])
    assert cand.signals["face"] == 1.0 and cand.signals["face_cut"] == 0.0 and cand.signals["eyes_open"] == 1.0
    assert cand.signals["face_size"] >= FACES.full_size
    assert cand.score == pytest.approx(FACES.bonus) == cand.signals["face_bonus"]


def test_no_face_changes_nothing():
    (cand,) = scored(np.full((360, 640, 3), 128, np.uint8))
    assert cand.score == 0.0 and cand.faces == ()
    assert cand.signals["face"] == 0.0 and cand.signals["face_size"] == 0.0 and "eyes_open" not in cand.signals


def test_the_bonus_grows_with_the_face():
    large, small = scored(on_grey(ASTRONAUT[:360], 0.9), on_grey(ASTRONAUT[:360], 0.45))
    assert large.signals["face"] == small.signals["face"] == 1.0
    assert small.signals["face_size"] < FACES.full_size <= large.signals["face_size"]
    assert 0 < small.score < large.score == pytest.approx(FACES.bonus)
    assert small.score == pytest.approx(FACES.bonus * small.signals["face_size"] / FACES.full_size)


def test_closed_eyes_cost_the_penalty():
    image = np.ascontiguousarray(ASTRONAUT[:360])
    (box,) = HaarFaceDetector().detect(torch.from_numpy(image).permute(2, 0, 1)[None])[0]
    opened, closed = scored(image, painted_eyes(image, box))
    assert opened.signals["eyes_open"] == 1.0 and closed.signals["eyes_open"] == 0.0
    assert closed.signals["face_size"] >= FACES.full_size
    assert closed.score == pytest.approx(opened.score - FACES.closed_eyes_penalty) and closed.score < opened.score


def test_a_face_cut_by_the_frame_edge_costs_the_penalty_and_is_not_eye_checked():
    (whole,) = HaarFaceDetector().detect(
        torch.from_numpy(np.ascontiguousarray(ASTRONAUT[:360])).permute(2, 0, 1)[None]
    )[0]
    top = whole[1] + round(0.35 * whole[3])
    cut, full = scored(ASTRONAUT[top : top + 360], ASTRONAUT[:360])
    assert cut.signals["face"] == 1.0 and cut.signals["face_cut"] == 1.0 and "eyes_open" not in cut.signals
    expected = FACES.bonus * min(1.0, cut.signals["face_size"] / FACES.full_size) - FACES.edge_penalty
    assert cut.score == pytest.approx(expected) and cut.score < full.score
    (box,) = cut.faces or ()
    assert box[1] == 0  # clipped to the frame


def test_a_turned_face_earns_the_bonus_by_its_size():
    (cand,) = scored(cameraman())
    assert cand.signals["face"] == 1.0 and "eyes_open" not in cand.signals and cand.signals["face_cut"] == 0.0
    assert cand.score == pytest.approx(FACES.bonus * min(1.0, cand.signals["face_size"] / FACES.full_size))


def test_profile_off_leaves_turned_faces_alone():
    (cand,) = [candidate(cameraman())]
    FaceBonus(Config().with_overrides({"faces.profile": False})).apply([cand])
    assert cand.signals["face"] == 0.0 and cand.score == 0.0


def test_boxes_are_kept_in_full_resolution_pixels_and_size_is_a_fraction():
    view = np.ascontiguousarray(ASTRONAUT[:360])
    frame = cv2.resize(view, (1280, 720), interpolation=cv2.INTER_CUBIC)
    small, big = candidate(view), candidate(frame, view)
    FaceBonus(CONFIG).apply([small, big])
    assert big.faces == tuple(tuple(2 * v for v in b) for b in small.faces or ())
    assert big.signals == small.signals


def test_a_detector_that_only_gives_boxes_still_earns_by_size():
    class Boxes(FaceDetector):
        def detect(self, images):
            return [[(10, 10, 45, 45)] for _ in range(images.shape[0])]

    cand = candidate(np.zeros((360, 640, 3), np.uint8))
    FaceBonus(CONFIG, Boxes()).apply([cand])
    assert cand.signals["face_size"] == pytest.approx(45 / 360) and "eyes_open" not in cand.signals
    assert cand.score == pytest.approx(FACES.bonus * (45 / 360) / FACES.full_size)
