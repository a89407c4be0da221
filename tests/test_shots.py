import statistics

import pytest
import scenedetect
from scenedetect import AdaptiveDetector, ContentDetector

from streamthumb.config import ShotsConfig
from streamthumb.decode import VideoReader, frame_size, small_bgr
from streamthumb.shots import analysis_size, make_shot_detector
from synthetic import Segment, write_video

CUTS_720P = [
    Segment("astronaut", 1.6),
    Segment("rocket", 1.2),
    Segment("coffee", 2.0),
    Segment("brick", 0.8),
    Segment("camera", 1.4),
]


@pytest.fixture(scope="module")
def video_720p(media):
    path = media / "cuts720.mp4"
    return path, write_video(path, CUTS_720P, size=(1280, 720))


def our_cuts(path, cfg: ShotsConfig) -> list[float]:
    with VideoReader(path) as reader:
        detector = make_shot_detector(cfg, reader.info.fps)
        cuts: list[float] = []
        t = 0.0
        for frame, t in reader:
            size = analysis_size(*frame_size(frame), cfg.analysis_width)
            cuts += detector.process(small_bgr(frame, *size), t).cuts
        return cuts + detector.finish(t)


def their_cuts(path, detector) -> list[float]:
    scenes = scenedetect.detect(str(path), detector, backend="pyav")
    return [start.seconds for start, _ in scenes[1:]]


@pytest.mark.parametrize("which", ["standard", "720p"])
def test_cuts_found_where_the_shots_change(which, standard_video, video_720p):
    path, truth = standard_video if which == "standard" else video_720p
    found = our_cuts(path, ShotsConfig())
    assert len(found) == len(truth)
    assert found == pytest.approx(truth, abs=0.041)  # within one frame at 25 fps


@pytest.mark.parametrize(
    ("cfg", "theirs"),
    [
        (ShotsConfig(), lambda: ContentDetector(threshold=27.0, min_scene_len=15)),
        (ShotsConfig(detector="adaptive"), lambda: AdaptiveDetector(adaptive_threshold=3.0, min_scene_len=15)),
    ],
    ids=["content", "adaptive"],
)
def test_cuts_match_pyscenedetect_detect(cfg, theirs, video_720p):
    path, _ = video_720p
    ours, reference = our_cuts(path, cfg), their_cuts(path, theirs())
    assert len(ours) == len(reference) > 0
    assert ours == pytest.approx(reference, abs=0.041)


def test_latency_covers_the_flash_filter():
    assert make_shot_detector(ShotsConfig(min_scene_len=15), 25.0).latency >= 15
    assert make_shot_detector(ShotsConfig(detector="adaptive"), 25.0).latency >= 2


def test_analysis_size_follows_pyscenedetect_auto_downscale():
    assert analysis_size(1920, 1080, 256) == (256, 144)
    assert analysis_size(200, 100, 256) == (200, 100)


def test_updates_carry_the_per_frame_content_score(standard_video):
    """The planner keeps these around candidates; PySceneDetect exposes them privately, so pin it."""
    path, cuts = standard_video
    for name in ("content", "adaptive"):
        with VideoReader(path) as reader:
            detector = make_shot_detector(ShotsConfig(detector=name), reader.info.fps)
            scores = []
            for frame, t in reader:
                scores.append((t, detector.process(small_bgr(frame, 160, 120), t).content))
        finite = [(t, s) for t, s in scores if s == s]
        assert len(finite) >= len(scores) - 1, name
        at_cut = max(s for t, s in finite if abs(t - cuts[0]) < 0.05)
        inside = statistics.median(s for t, s in finite if 0.5 < t < 2.5)
        assert at_cut > 5 * max(inside, 1e-3), (name, at_cut, inside)


@pytest.mark.parametrize("name", ["content", "adaptive"])
def test_frame_scores_equal_pyscenedetect_to_the_bit(name, video_720p):
    """The one-pass score replaces ContentDetector's per-plane numpy arithmetic, not its values."""
    path, _ = video_720p
    theirs = ContentDetector() if name == "content" else AdaptiveDetector()
    ours = make_shot_detector(ShotsConfig(detector=name), 25.0)
    pairs = []
    with VideoReader(path) as reader:
        for frame, t in reader:
            small = small_bgr(frame, *analysis_size(*frame_size(frame), 256))
            update = ours.process(small, t)
            theirs.process_frame(ours._timecode(t), small)
            pairs.append((update.content, theirs._frame_score))
    assert len(pairs) > 100 and any(a > 27 for a, _ in pairs)  # the cuts are in there
    assert all(a == b for a, b in pairs)
