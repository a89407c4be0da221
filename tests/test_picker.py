import math
import threading
import time

import av
import numpy as np
import pytest
import torch

import streamthumb.decode
import streamthumb.picker
import streamthumb.pipeline
from conftest import BrightnessScorer, ConstantScorer
from streamthumb import Config, EmptyVideoError, ModelError, Picker, Scorer, pick
from synthetic import Segment, frames_for, rotate_mp4, write_video

BLUR_SHOT, BLACK_SHOT = 2, 3


def test_end_to_end_with_the_real_model_path(standard_video, tiny_config):
    path, cuts = standard_video
    result = pick(path, tiny_config, k=3)
    assert [s.start for s in result.shots[1:]] == pytest.approx(cuts, abs=0.041)
    assert len(result.picks) == 3
    assert [p.rank for p in result.picks] == [1, 2, 3]
    assert result.picks[0].score >= result.picks[1].score >= result.picks[2].score
    for p in result.picks:
        assert p.shot not in (BLUR_SHOT, BLACK_SHOT) and not p.fallback
        assert p.sharpness >= tiny_config.filters.sharpness.min_sharpness
        assert p.image.shape == (240, 320, 3)
    assert len({p.shot for p in result.picks}) == 3
    times = sorted(p.t for p in result.picks)
    assert min(np.diff(times)) >= tiny_config.select.min_gap
    assert (result.width, result.height, result.fps) == (320, 240, 25.0)
    assert result.duration == pytest.approx(11.0)


def test_blurred_and_black_frames_are_never_picked_even_when_they_score_best(standard_video, tiny_config):
    class LovesDarkAndBlur(Scorer):
        device = torch.device("cpu")

        def score(self, images):  # the darker and smoother, the higher
            return 1.0 - images.float().mean(dim=(1, 2, 3)) / 255.0

    result = pick(standard_video[0], tiny_config, k=5, scorer=LovesDarkAndBlur())
    assert result.stats.rejected["blurry"] >= 1 and result.stats.rejected["dark"] >= 1
    assert {p.shot for p in result.picks}.isdisjoint({BLUR_SHOT, BLACK_SHOT})


def test_face_bonus_ranks_the_face_first(standard_video, tiny_config):
    frontal = tiny_config.with_overrides({"faces.profile": False})  # the cameraman is in profile
    result = pick(standard_video[0], frontal, k=3, scorer=ConstantScorer())
    best = result.picks[0]
    assert best.shot == 0 and best.face
    assert 0 < face_part(best, tiny_config) <= tiny_config.faces.bonus + 1e-9
    assert not any(p.face for p in result.picks[1:])


def face_part(p, config) -> float:
    """What the face bonus added: the score less the scorer's score and the quality terms."""
    from streamthumb.quality import weighted

    terms = {k[2:]: v for k, v in p.candidate.signals.items() if k.startswith("q_")}
    return p.score - p.clip - weighted(terms, config.quality)


def test_the_file_is_opened_and_decoded_once(standard_video, tiny_config, monkeypatch):
    opened, converted = [], []
    real_open, real_to_rgb = av.open, streamthumb.pipeline.to_rgb
    monkeypatch.setattr(streamthumb.decode.av, "open", lambda *a, **kw: opened.append(a[0]) or real_open(*a, **kw))
    monkeypatch.setattr(streamthumb.pipeline, "to_rgb", lambda f, **kw: converted.append(1) or real_to_rgb(f, **kw))
    result = pick(standard_video[0], tiny_config, scorer=ConstantScorer())
    assert len(opened) == 1
    assert result.stats.frames_decoded == 275  # every frame, once
    assert len(converted) == len(result.picks) == 3  # full-resolution RGB only for the picks


def test_candidates_are_scored_in_micro_batches(tiny_config, media):
    path = media / "many.mp4"
    write_video(path, [Segment(n, 6.0) for n in ("astronaut", "coffee", "rocket", "brick")], size=(160, 120), fps=10)
    scorer = ConstantScorer()
    cfg = tiny_config.with_overrides({"runtime.batch_size": 4, "candidates.every": 0.5, "candidates.dedupe_gap": 0.2})
    result = pick(path, cfg, scorer=scorer)
    assert result.stats.scored == sum(scorer.batches) >= 40
    assert max(scorer.batches) == 4 and len(scorer.batches) < result.stats.scored


class SlowScorer(ConstantScorer):
    """Slower than decoding, so the queue fills and back-pressure must hold the line."""

    def score(self, images):
        time.sleep(0.05)
        return super().score(images)


@pytest.mark.slow
def test_frames_held_stay_bounded_on_a_long_video(tiny_config, media):
    path = media / "long.mp4"
    names = ("astronaut", "coffee", "rocket", "brick", "chelsea", "camera")
    write_video(path, [Segment(n, 2.0) for _ in range(10) for n in names], size=(160, 120), fps=25)
    cfg = tiny_config.with_overrides(
        {"candidates.every": 0.5, "candidates.dedupe_gap": 0.1, "runtime.queue_size": 8, "runtime.batch_size": 4}
    )
    result = pick(path, cfg, scorer=SlowScorer())
    assert result.stats.frames_decoded == 3000 and result.stats.candidates >= 240
    lookahead = cfg.shots.min_scene_len + 2 + math.ceil(cfg.candidates.shot_offset * 25) + 2
    bound = lookahead + cfg.runtime.queue_size + cfg.runtime.batch_size + 2 * cfg.select.capacity
    assert cfg.runtime.queue_size <= result.stats.peak_frames_held <= bound


def test_push_api_takes_frames_from_any_decoder(tiny_config):
    """A transcoder that already has RGB frames feeds them; nothing is decoded twice."""
    rng = np.random.default_rng(0)
    segments = [Segment("astronaut", 2.0), Segment("rocket", 2.0), Segment("coffee", 2.0)]
    with Picker(tiny_config, scorer=BrightnessScorer(), fps=25.0, video="live") as picker:
        i = 0
        for seg in segments:
            for frame in frames_for(seg, 320, 240, 25, rng):
                picker.push(frame if i % 2 else torch.from_numpy(frame).permute(2, 0, 1), i / 25)
                i += 1
        result = picker.finish()
    assert [s.start for s in result.shots] == pytest.approx([0.0, 2.0, 4.0], abs=0.041)
    assert len(result.picks) == 3 and result.video == "live"


def test_every_frame_layout_gives_the_same_picks(tiny_config):
    """RGB arrays, (3, H, W) and (H, W, 3) tensors are the same pictures: same cuts, same picks."""
    rng = np.random.default_rng(0)
    frames = [
        f for seg in (Segment("astronaut", 2.0), Segment("rocket", 2.0)) for f in frames_for(seg, 160, 120, 25, rng)
    ]
    layouts = {
        "array": lambda f: f,
        "chw": lambda f: torch.from_numpy(f).permute(2, 0, 1).contiguous(),
        "hwc": lambda f: torch.from_numpy(f),
    }
    found = {}
    for name, layout in layouts.items():
        with Picker(tiny_config, scorer=BrightnessScorer(), fps=25.0) as picker:
            for i, frame in enumerate(frames):
                picker.push(layout(frame), i / 25)
            result = picker.finish()
        found[name] = ([s.start for s in result.shots], [p.t for p in result.picks], [p.score for p in result.picks])
        assert result.picks[0].image.shape == (120, 160, 3)
    assert found["chw"] == found["hwc"] and len(found["hwc"][0]) == 2  # a view of the same tensor
    assert found["array"][:2] == found["chw"][:2]  # arrays resize with OpenCV: scores agree to rounding
    assert found["array"][2] == pytest.approx(found["chw"][2], abs=2e-3)


def test_all_blurry_video_still_returns_flagged_picks(tiny_config, media):
    path = media / "blurry.mp4"
    write_video(path, [Segment("astronaut", 2.0, "blur"), Segment("coffee", 2.0, "blur")], size=(160, 120))
    result = pick(path, tiny_config, k=2, scorer=ConstantScorer())
    assert len(result.picks) == 2
    assert all(p.fallback for p in result.picks)
    assert result.stats.scored == 2  # only the fallbacks were scored, after the stream


def test_rotated_video_picks_are_upright(tiny_config, media):
    path = media / "flat.mp4"
    write_video(path, [Segment("astronaut", 1.0)], size=(320, 240))
    rotated = media / "portrait.mp4"
    rotate_mp4(path, rotated, 90)
    result = pick(rotated, tiny_config, k=1, scorer=ConstantScorer())
    assert (result.width, result.height) == (240, 320)
    assert result.picks[0].image.shape == (320, 240, 3)


def test_keyframe_sampling_decodes_only_keyframes(standard_video, tiny_config):
    cfg = tiny_config.with_overrides({"decode.sampling": "keyframes"})
    result = pick(standard_video[0], cfg, scorer=ConstantScorer())
    assert 0 < result.stats.frames_decoded < 275 / 5
    assert result.stats.candidates == result.stats.frames_decoded
    assert result.picks and not any(5.0 <= p.t < 8.0 for p in result.picks)  # blur and black segments


def test_scorer_failure_surfaces_without_hanging(standard_video, tiny_config):
    class Broken(Scorer):
        device = torch.device("cpu")

        def score(self, images):
            raise ModelError("out of GPU memory, try --batch-size 4")

    before = threading.active_count()
    with pytest.raises(ModelError, match="batch-size 4"):
        pick(
            standard_video[0],
            tiny_config.with_overrides({"runtime.queue_size": 1, "runtime.batch_size": 1}),
            scorer=Broken(),
        )
    assert threading.active_count() == before  # the scoring thread was joined


def test_finish_without_frames_is_an_empty_video_error(tiny_config):
    with pytest.raises(EmptyVideoError, match="no video frames"):
        Picker(tiny_config, scorer=ConstantScorer(), video="empty").finish()


def test_push_after_finish_is_refused(tiny_config):
    picker = Picker(tiny_config, scorer=ConstantScorer())
    picker.push(np.full((48, 64, 3), 128, np.uint8), 0.0)
    picker.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        picker.push(np.zeros((48, 64, 3), np.uint8), 0.04)


def test_default_config_needs_no_network_when_a_scorer_is_given(standard_video):
    result = pick(standard_video[0], Config().with_overrides({"runtime.device": "cpu"}), scorer=ConstantScorer())
    assert result.picks


def test_faces_are_searched_only_where_the_bonus_could_matter(tiny_config, media):
    from streamthumb.faces import HaarFaceDetector

    class Counting(HaarFaceDetector):
        searched = 0

        def detect_faces(self, images):
            Counting.searched += images.shape[0]
            return super().detect_faces(images)

    path = media / "faces-lazy.mp4"
    write_video(
        path,
        [Segment(n, 4.0) for n in ("coffee", "rocket", "brick", "camera", "astronaut", "chelsea")],
        size=(160, 120),
    )
    cfg = tiny_config.with_overrides(
        {"select.k": 1, "select.pool_size": 1, "candidates.every": 0.5, "runtime.batch_size": 2, "faces.profile": False}
    )
    result = pick(path, cfg, scorer=BrightnessScorer(), face_detector=Counting(profile=False))
    assert 0 < Counting.searched < result.stats.scored  # skipped where even the bonus could not help
    with_faces = pick(
        path,
        cfg.with_overrides({"faces.bonus": 10.0}),
        scorer=BrightnessScorer(),
        face_detector=Counting(profile=False),
    )
    assert with_faces.picks[0].face and 16.0 <= with_faces.picks[0].t < 20.0  # the astronaut shot


def test_callers_may_reuse_their_frame_buffer(tiny_config):
    """A transcoder often decodes into one buffer; the picks must show the frames pushed then."""
    buffer = np.zeros((120, 160, 3), np.uint8)
    with Picker(tiny_config.with_overrides({"faces.enabled": False}), scorer=BrightnessScorer(), fps=25.0) as picker:
        for i in range(100):
            buffer[:] = 40 + 2 * i  # each frame has its own brightness
            picker.push(buffer, i / 25)
        result = picker.finish()
    for p in result.picks:
        assert p.image.mean() == pytest.approx(40 + 2 * round(p.t * 25), abs=1)


def test_finish_after_a_scoring_failure_raises_again(tiny_config, standard_video):
    class FailsSecond(ConstantScorer):
        def score(self, images):
            if self.batches:
                raise ModelError("device lost")
            return super().score(images)

    picker = Picker(tiny_config.with_overrides({"runtime.batch_size": 1}), scorer=FailsSecond(), fps=25.0)
    frames = list(frames_for(Segment("coffee", 3.0), 160, 120, 25, np.random.default_rng(0)))
    with pytest.raises(ModelError):  # push reports the failure once the scoring thread hits it
        for i in range(5000):
            picker.push(frames[i % len(frames)], i / 25)
            time.sleep(0.001)
    with pytest.raises(ModelError, match="device lost"):
        picker.finish()  # and finish() reports it again: never a partial result


def test_resolution_change_mid_stream(tiny_config):
    rng = np.random.default_rng(0)
    with Picker(tiny_config.with_overrides({"select.k": 4}), scorer=ConstantScorer(), fps=25.0) as picker:
        i = 0
        for seg, size in [(Segment("astronaut", 3.0), (320, 240)), (Segment("coffee", 3.0), (480, 270))]:
            for frame in frames_for(seg, *size, 25, rng):
                picker.push(frame, i / 25)
                i += 1
        result = picker.finish()
    assert {p.image.shape for p in result.picks} == {(240, 320, 3), (270, 480, 3)}


def test_keyframe_mode_keeps_the_container_duration(standard_video, tiny_config):
    result = pick(
        standard_video[0], tiny_config.with_overrides({"decode.sampling": "keyframes"}), scorer=ConstantScorer()
    )
    assert result.duration == pytest.approx(11.0, abs=0.05) and not result.stats.truncated
    assert result.shots[-1].end == pytest.approx(result.duration)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("hello", "got str"),
        (np.zeros((4, 4), np.uint8), r"\(H, W, 3\) uint8 RGB array, got shape \(4, 4\)"),
        (np.zeros((4, 4, 3), np.float32), "float32"),
        (np.zeros((0, 4, 3), np.uint8), "non-empty"),
        (
            torch.zeros((4, 4, 4), dtype=torch.uint8),
            r"\(3, H, W\) or \(H, W, 3\) uint8 RGB tensor, got shape \(4, 4, 4\)",
        ),
        (torch.zeros((3, 4, 4), dtype=torch.float32), "torch.float32"),
    ],
    ids=["str", "2d-array", "float-array", "empty-array", "4-channel-tensor", "float-tensor"],
)
def test_push_rejects_what_is_not_a_frame_with_a_frame_error(frame, message):
    from streamthumb import FrameError

    with Picker(Config(), scorer=ConstantScorer()) as picker:
        with pytest.raises(FrameError, match=message):
            picker.push(frame, 0.0)


@pytest.mark.parametrize("t", [math.nan, math.inf, -1.0, "0.5", None])
def test_push_rejects_times_that_are_not_seconds(t):
    from streamthumb import FrameError

    with Picker(Config(), scorer=ConstantScorer()) as picker:
        with pytest.raises(FrameError, match="finite seconds"):
            picker.push(np.zeros((8, 8, 3), np.uint8), t)


def test_times_that_step_back_are_held_at_the_previous_time():
    frames = [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(1, 5)]
    with Picker(Config(), scorer=ConstantScorer()) as picker:
        for frame, t in zip(frames, [0.0, 0.04, 0.02, np.float32(0.12)], strict=True):
            picker.push(frame, t)
        result = picker.finish()
    assert result.stats.frames_decoded == 4
    assert result.duration == pytest.approx(0.12 + 1 / 25)


def test_snapshots_give_the_best_so_far_and_leave_the_end_alone(tiny_config):
    """A live stream asks for a result every few seconds; the final picks do not change."""
    rng = np.random.default_rng(0)
    names = ("astronaut", "rocket", "coffee", "chelsea", "camera", "brick")
    frames = [f for n in names for f in frames_for(Segment(n, 2.0), 160, 120, 25, rng)]

    cfg = tiny_config.with_overrides({"select.pool_size": 6, "select.k": 3, "candidates.every": 0.5})  # evictions

    def stream(snapshot_every: int | None):
        snapshots = []
        with Picker(cfg, scorer=BrightnessScorer(), fps=25.0, video="live") as picker:
            for i, frame in enumerate(frames):
                picker.push(frame, i / 25)
                if snapshot_every and i and i % snapshot_every == 0:
                    snapshots.append((i / 25, picker.snapshot()))
            return snapshots, picker.finish()

    snapshots, final = stream(snapshot_every=240)  # every 9.6 s
    _, plain = stream(snapshot_every=None)
    assert [(p.t, p.score) for p in final.picks] == [(p.t, p.score) for p in plain.picks]
    assert [c.fate for c in final.candidates] == [c.fate for c in plain.candidates]
    often, _ = stream(snapshot_every=7)  # a snapshot between any two batches: the end is the same
    assert len(often) > 30
    ((at, early),) = snapshots
    assert at == 9.6 and early.duration == pytest.approx(9.64) and len(early.shots) == 5
    assert len(early.picks) == 3 and all(p.t < at for p in early.picks) and early.shortfall is None
    assert [p.rank for p in early.picks] == [1, 2, 3] and early.picks[0].image.shape == (120, 160, 3)
    assert early.provenance == final.provenance and early.to_dict()["schema_version"] == 1


def test_snapshot_after_finish_is_refused(tiny_config):
    picker = Picker(tiny_config, scorer=ConstantScorer())
    picker.push(np.full((48, 64, 3), 128, np.uint8), 0.0)
    picker.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        picker.snapshot()


@pytest.mark.needs_cuda
def test_cuda_frames_stay_on_the_device_and_pick_what_cpu_frames_pick(tiny_config):
    """Frames from NVDEC or torchcodec stay on the GPU: views and batches are made there."""

    class OnDevice(BrightnessScorer):
        def __init__(self, device: str):
            self.device = torch.device(device)

        def score(self, images):
            assert images.device.type == self.device.type  # no trip through host memory
            return super().score(images).cpu()

    rng = np.random.default_rng(0)
    frames = [
        torch.from_numpy(f).permute(2, 0, 1).contiguous()
        for n in ("astronaut", "rocket", "coffee")
        for f in frames_for(Segment(n, 2.0), 320, 240, 25, rng)
    ]
    found = {}
    for device in ("cpu", "cuda"):
        cfg = tiny_config.with_overrides({"runtime.device": device})
        with Picker(cfg, scorer=OnDevice(device), fps=25.0) as picker:
            for i, frame in enumerate(frames):
                picker.push(frame.to(device), i / 25)
            result = picker.finish()
        found[device] = ([s.start for s in result.shots], [p.t for p in result.picks], [p.score for p in result.picks])
    assert found["cuda"][:2] == found["cpu"][:2]
    assert found["cuda"][2] == pytest.approx(found["cpu"][2], abs=1e-3)


def test_finish_after_close_is_refused(tiny_config):
    picker = Picker(tiny_config, scorer=ConstantScorer())
    picker.push(np.full((48, 64, 3), 128, np.uint8), 0.0)
    picker.close()
    with pytest.raises(RuntimeError, match="after finish\\(\\) or close\\(\\)"):
        picker.finish()


def test_pick_decodes_while_the_model_loads(standard_video, tiny_config, monkeypatch):
    """A cold pick loads the model on a thread beside the decoder, not before it."""
    import streamthumb.picker

    real, loaded_at = streamthumb.picker.load_cached_scorer, []

    def slow_load(cfg, device):
        time.sleep(1.0)  # a model that takes a second to load
        loaded_at.append(time.monotonic())
        return real(cfg, device)

    monkeypatch.setattr(streamthumb.picker, "load_cached_scorer", slow_load)
    first_frame = []
    result = pick(
        standard_video[0],
        tiny_config,
        on_event=lambda e: first_frame.append(time.monotonic()) if not first_frame else None,
    )
    assert len(result.picks) == 3
    assert first_frame[0] < loaded_at[0]  # frames were decoded before the model was ready
    assert result.stats.timings["model"] >= 1.0
    # Faces were searched while it loaded, and the scores are the ones a loaded model gives.
    warm = pick(standard_video[0], tiny_config, scorer=real(tiny_config.scoring, "cpu"))
    assert [(p.candidate.t, p.candidate.score) for p in result.picks] == pytest.approx(
        [(p.candidate.t, p.candidate.score) for p in warm.picks]
    )
    faced = [c for c in result.candidates if c.faces]
    assert faced and {c.t for c in faced} == {c.t for c in warm.candidates if c.faces}


def test_faces_are_searched_while_the_model_loads(standard_video, tiny_config, monkeypatch):
    import streamthumb.picker
    from streamthumb.faces import HaarFaceDetector

    real, loaded_at, searched_at = streamthumb.picker.load_cached_scorer, [], []

    def slow_load(cfg, device):
        time.sleep(1.5)
        loaded_at.append(time.monotonic())
        return real(cfg, device)

    class Timed(HaarFaceDetector):
        def detect_faces(self, images):
            searched_at.append(time.monotonic())
            return super().detect_faces(images)

    monkeypatch.setattr(streamthumb.picker, "load_cached_scorer", slow_load)
    pick(standard_video[0], tiny_config, face_detector=Timed())
    assert searched_at and searched_at[0] < loaded_at[0]


def test_a_model_that_fails_to_load_in_the_background_still_fails_the_pick(standard_video, tiny_config, tmp_path):
    broken = tiny_config.with_overrides({"scoring.model": f"local-dir:{tmp_path / 'missing'}"})
    with pytest.raises(ModelError, match="missing"):
        pick(standard_video[0], broken)


def test_importing_the_picker_does_not_import_open_clip():
    """open_clip (and torchvision) cost 1.5 s to import; a pick starts decoding without them."""
    import subprocess
    import sys

    code = "import sys, streamthumb.picker; assert 'open_clip' not in sys.modules, 'open_clip was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_faces_are_searched_while_the_scorer_encodes_and_the_pool_has_room(standard_video, tiny_config):
    """The scorer's thread encodes a batch while the picker's searches its faces: with room in
    the pool those searches are due at the end anyway, so they cost no waiting."""
    from streamthumb.faces import HaarFaceDetector

    events: list[tuple[str, float]] = []

    class Slow(BrightnessScorer):
        def score(self, images):
            events.append(("score", time.monotonic()))
            time.sleep(0.3)
            events.append(("scored", time.monotonic()))
            return super().score(images)

    class Timed(HaarFaceDetector):
        def detect_faces(self, images):
            events.append(("search", time.monotonic()))
            return super().detect_faces(images)

    cfg = tiny_config.with_overrides({"select.pool_size": 40})  # every candidate fits
    result = pick(standard_video[0], cfg, scorer=Slow(), face_detector=Timed())
    first_score = next(t for e, t in events if e == "score")
    first_done = next(t for e, t in events if e == "scored")
    assert any(first_score <= t < first_done for e, t in events if e == "search")
    warm = pick(standard_video[0], cfg, scorer=BrightnessScorer())  # the same picks as one after the other
    assert [(p.t, p.score) for p in result.picks] == pytest.approx([(p.t, p.score) for p in warm.picks])
    assert all(c.faces is not None for c in result.candidates if c.fate != "rejected")
