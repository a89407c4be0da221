import cv2
import numpy as np
import pytest
import torch
from skimage import data

from streamthumb.faces import CUT_VISIBLE, Face, FaceDetector, HaarFaceDetector, _cascade, _detections, _merge, _search
from synthetic import photo


def batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.ascontiguousarray(i) for i in images])).permute(0, 3, 1, 2)


def iou(a, b) -> float:
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


ASTRONAUT = photo("astronaut", 640, 480, zoom=1.0)  # 640 x 640; the face is in the top 360 rows


def cameraman() -> np.ndarray:
    """scikit-image's cameraman, a real face turned to the right, in a 640x360 frame."""
    gray = cv2.resize(data.camera(), (640, 640), interpolation=cv2.INTER_AREA)[:360]
    return np.dstack([gray] * 3)


CAMERAMAN_FACE = (237, 143, 101, 101)  # by eye: brow to chin, ear to nose


def test_astronaut_has_a_face_and_the_coffee_cup_does_not():
    images = [photo(n, 640, 480, zoom=1.0)[:480, :640] for n in ("astronaut", "coffee", "rocket")]
    found = HaarFaceDetector().detect(batch(*images))
    assert len(found[0]) >= 1 and found[1] == [] and found[2] == []
    x, y, w, h = found[0][0]
    assert 0 <= x < 640 and 0 <= y < 480 and w >= 0.07 * 480


def test_boxes_are_in_full_resolution_pixels():
    small = photo("astronaut", 320, 240, zoom=1.0)[:240, :320]
    big = photo("astronaut", 1280, 960, zoom=1.0)[:960, :1280]
    det = HaarFaceDetector()
    (box_s,) = det.detect(batch(small))[0][:1]
    (box_b,) = det.detect(batch(big))[0][:1]
    assert np.allclose(np.array(box_b) / 4, box_s, atol=12)


def test_min_size_drops_small_faces():
    img = batch(photo("astronaut", 640, 480, zoom=1.0)[:480, :640])
    assert HaarFaceDetector(min_size=0.9).detect(img) == [[]]


def test_detect_gives_the_boxes_of_detect_faces():
    det = HaarFaceDetector()
    images = batch(ASTRONAUT[:360], cameraman())
    assert det.detect(images) == [[f.box for f in faces] for faces in det.detect_faces(images)]


def test_a_whole_frontal_face_with_open_eyes():
    (faces,) = HaarFaceDetector().detect_faces(batch(ASTRONAUT[:360]))
    (face,) = faces
    assert face.kind == "frontal" and face.visible == 1.0 and not face.cut and face.eyes_open is True


def test_turned_faces_are_found_both_ways_and_only_with_profile_on():
    image = cameraman()
    mirrored = image[:, ::-1]
    assert HaarFaceDetector(profile=False).detect_faces(batch(image, mirrored)) == [[], []]
    right, left = HaarFaceDetector().detect_faces(batch(image, mirrored))
    x, y, w, h = CAMERAMAN_FACE
    for faces, truth in ((right, CAMERAMAN_FACE), (left, (640 - x - w, y, w, h))):
        (face,) = faces
        assert face.kind == "profile" and face.eyes_open is None and iou(face.box, truth) > 0.4


def test_mirroring_an_image_mirrors_the_frontal_box():
    image = ASTRONAUT[:360]
    (a,), (b,) = HaarFaceDetector(profile=False).detect(batch(image, image[:, ::-1]))
    assert abs((640 - b[0] - b[2]) - a[0]) <= 8 and abs(a[1] - b[1]) <= 8 and abs(a[2] - b[2]) <= 8


def test_a_face_whose_top_is_cut_off_is_found_and_flagged():
    (whole,) = HaarFaceDetector().detect(batch(ASTRONAUT[:360]))[0]
    x, y, w, h = whole
    top = y + round(0.35 * h)  # the frame's top edge runs through the eyes
    cut_image = ASTRONAUT[top : top + 360]
    plain = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    gray = cv2.cvtColor(np.ascontiguousarray(cut_image), cv2.COLOR_RGB2GRAY)
    assert len(plain.detectMultiScale(gray, 1.2, 5, minSize=(25, 25))) == 0  # what the old search saw

    (faces,) = HaarFaceDetector().detect_faces(batch(cut_image))
    (face,) = faces
    assert face.cut and face.visible < CUT_VISIBLE and face.eyes_open is None
    fx, fy, fw, fh = face.box
    assert fy == 0 and fh < fw and abs(fx - x) <= 12 and abs(fw - w) <= 20  # clipped to the frame
    assert face.size == fw  # the cut does not shrink the face


def test_a_face_with_only_the_forehead_cut_is_not_flagged():
    (whole,) = HaarFaceDetector().detect(batch(ASTRONAUT[:360]))[0]
    top = whole[1] + round(0.1 * whole[3])
    (faces,) = HaarFaceDetector().detect_faces(batch(ASTRONAUT[top : top + 360]))
    (face,) = faces
    assert face.visible < 1.0 and not face.cut


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "cell", "page", "brick", "hubble_deep_field"])
def test_no_faces_in_faceless_photos(name):
    """The ``default`` cascade the detector used before found a face in the cells."""
    image = getattr(data, name)()
    image = np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]
    scale = max(640 / image.shape[1], 360 / image.shape[0])
    image = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))))
    y0, x0 = (image.shape[0] - 360) // 2, (image.shape[1] - 640) // 2
    assert HaarFaceDetector().detect(batch(image[y0 : y0 + 360, x0 : x0 + 640])) == [[]]


def painted_eyes(image: np.ndarray, face: tuple[int, int, int, int]) -> np.ndarray:
    """The image with the eyes in the face box painted over with the cheek's colour."""
    x, y, w, h = face
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    eye = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")  # type: ignore[attr-defined]
    eyes = eye.detectMultiScale(gray[y : y + h * 6 // 10, x : x + w], 1.1, 3)
    assert len(eyes) == 2
    out = image.copy()
    cheek = image[y + h * 62 // 100 : y + h * 72 // 100, x + w // 5 : x + w * 3 // 10].reshape(-1, 3).mean(0)
    for ex, ey, ew, eh in eyes:
        out[y + ey + eh // 5 : y + ey + eh * 4 // 5, x + ex : x + ex + ew] = cheek.astype(np.uint8)
    return out


def test_painted_over_eyes_read_as_closed():
    image = np.ascontiguousarray(ASTRONAUT[:360])
    (face,) = HaarFaceDetector().detect_faces(batch(image))[0]
    (closed,) = HaarFaceDetector().detect_faces(batch(painted_eyes(image, face.box)))[0]
    assert face.eyes_open is True and closed.eyes_open is False and closed.kind == "frontal"


def test_eyes_of_small_faces_are_not_judged():
    # A 55-pixel face: a Haar box's size moves by up to 10 % with the search grid, so well below 60.
    small = cv2.resize(np.ascontiguousarray(ASTRONAUT[:360]), (288, 162), interpolation=cv2.INTER_AREA)
    frame = np.full((360, 640, 3), 128, np.uint8)
    frame[99:261, 176:464] = small
    (face,) = HaarFaceDetector().detect_faces(batch(frame))[0]
    assert face.size < 60 and face.eyes_open is None


def test_boxes_of_one_face_merge_frontal_first():
    frontal, profile, elsewhere = (100, 100, 80, 80), (95, 90, 100, 100), (300, 100, 60, 60)
    merged = _merge([("profile", profile, 9), ("frontal", frontal, 6), ("profile", elsewhere, 4)])
    assert merged == [("frontal", frontal), ("profile", elsewhere)]
    inner = (110, 110, 40, 40)  # mostly inside another box: the same face
    assert _merge([("frontal", inner, 20), ("frontal", frontal, 6)]) == [("frontal", frontal)]


def test_detectors_that_only_give_boxes_still_give_faces():
    class Boxes(FaceDetector):
        def detect(self, images):
            return [[(1, 2, 30, 40)] for _ in range(images.shape[0])]

    assert Boxes().detect_faces(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)) == [[Face((1, 2, 30, 40))]] * 2


def test_face_checks_its_fields():
    assert Face((0, 0, 10, 12), visible=0.5).cut and Face((0, 0, 10, 12)).size == 12
    with pytest.raises(ValueError, match="visible"):
        Face((0, 0, 10, 10), visible=1.5)
    with pytest.raises(ValueError, match="box"):
        Face((0, 0, -1, 10))


@pytest.mark.parametrize("zoom", [0.35, 0.5, 0.8, 1.2])
@pytest.mark.parametrize("where", ["left", "centre", "top"])
def test_two_pass_search_finds_the_strong_faces_of_the_plain_search(zoom, where):
    """The first pass looks at a tenth of the windows; a clear face must not slip between them."""
    side = round(640 * zoom)
    face = cv2.resize(np.ascontiguousarray(data.astronaut()), (side, side), interpolation=cv2.INTER_AREA)
    frame = cv2.resize(data.coffee(), (640, 360), interpolation=cv2.INTER_AREA)
    x = {"left": -side // 6, "centre": (640 - side) // 2, "top": 320 - side // 2}[where]
    y = -round(0.16 * side) if where == "top" else max(-side // 10, (360 - side) // 3)  # top: the forehead cut
    top, left = max(0, y), max(0, x)
    frame[top : min(360, y + side), left : min(640, x + side)] = face[top - y : 360 - y, left - x : 640 - x]
    gray = cv2.copyMakeBorder(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 54, 54, 54, 54, cv2.BORDER_REPLICATE)
    cascade = _cascade("haarcascade_frontalface_alt2.xml")
    plain = [box for box, n in _search(cascade, gray, 1.2, 3, 25) if n >= 8]
    found = [box for box, n in _detections(cascade, gray, 1.2, 3, 25) if n >= 6]
    assert plain, "the plain search must see the face for the comparison to mean anything"
    for box in plain:
        assert max(iou(box, other) for other in found) > 0.6, (box, found)
