import numpy as np
import torch

from streamthumb.faces import HaarFaceDetector
from synthetic import photo


def test_astronaut_has_a_face_and_the_coffee_cup_does_not():
    images = [photo(n, 640, 480, zoom=1.0)[:480, :640] for n in ("astronaut", "coffee", "rocket")]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    found = HaarFaceDetector().detect(batch)
    assert len(found[0]) >= 1 and found[1] == [] and found[2] == []
    x, y, w, h = found[0][0]
    assert 0 <= x < 640 and 0 <= y < 480 and w >= 0.07 * 480


def test_boxes_are_in_full_resolution_pixels():
    small = photo("astronaut", 320, 240, zoom=1.0)[:240, :320]
    big = photo("astronaut", 1280, 960, zoom=1.0)[:960, :1280]
    det = HaarFaceDetector()
    (box_s,) = det.detect(torch.from_numpy(small).permute(2, 0, 1)[None])[0][:1]
    (box_b,) = det.detect(torch.from_numpy(big).permute(2, 0, 1)[None])[0][:1]
    assert np.allclose(np.array(box_b) / 4, box_s, atol=12)


def test_min_size_drops_small_faces():
    img = torch.from_numpy(photo("astronaut", 640, 480, zoom=1.0)[:480, :640]).permute(2, 0, 1)[None]
    assert HaarFaceDetector(min_size=0.9).detect(img) == [[]]
