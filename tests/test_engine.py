"""The inference engine: several streams' candidates share batches, results stay per caller."""

import threading

import numpy as np
import torch

from conftest import BrightnessScorer
from streamthumb import Config, Picker, pick
from streamthumb.engine import InferenceEngine
from synthetic import Segment, frames_for, write_video


class RecordingScorer(BrightnessScorer):
    """Brightness scores, and the size of every batch the model saw."""

    def __init__(self):
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def score(self, images: torch.Tensor) -> torch.Tensor:
        with self.lock:
            self.sizes.append(images.shape[0])
        return super().score(images)


def test_each_caller_gets_its_own_slice_back():
    scorer = RecordingScorer()
    with InferenceEngine(scorer, max_batch=8) as engine:
        for _ in range(3):
            engine.attach()
        batches = [torch.full((n, 3, 4, 4), v, dtype=torch.uint8) for n, v in ((2, 10), (3, 200), (1, 90))]
        futures = [engine.submit(b) for b in batches]
        results = [f.result(timeout=10)[0] for f in futures]
    for batch, scores in zip(batches, results, strict=True):
        assert torch.allclose(scores, batch.float().mean(dim=(1, 2, 3)) / 255.0)
    assert sum(scorer.sizes) == 6


def test_a_model_error_reaches_every_caller_of_the_batch():
    class Broken(BrightnessScorer):
        def score(self, images):
            raise RuntimeError("device lost")

    with InferenceEngine(Broken()) as engine:
        future = engine.submit(torch.zeros((2, 3, 4, 4), dtype=torch.uint8))
        try:
            future.result(timeout=10)
        except RuntimeError as exc:
            assert "device lost" in str(exc)
        else:
            raise AssertionError("no error")


def test_four_streams_share_batches_and_pick_what_four_sequential_runs_pick(tmp_path):
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"v{i}.mp4")
        write_video(
            paths[-1],
            [Segment(p, 2.0) for p in ("coffee", "astronaut", "camera", "chelsea", "rocket")[i:] + ("brick",)],
            seed=i,
        )
    config = Config().with_overrides({"runtime.device": "cpu", "runtime.batch_size": 2, "faces.enabled": False})
    sequential_scorer = RecordingScorer()
    sequential = [pick(p, config, scorer=sequential_scorer) for p in paths]

    shared_scorer = RecordingScorer()
    results: dict[int, object] = {}
    with InferenceEngine(shared_scorer, max_batch=8, max_wait=0.2) as engine:

        def run(i: int) -> None:
            results[i] = pick(paths[i], config, engine=engine)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = engine.stats()
    for i, alone in enumerate(sequential):
        together = results[i]
        assert [(p.t, p.shot, round(p.score, 6)) for p in together.picks] == [
            (p.t, p.shot, round(p.score, 6)) for p in alone.picks
        ]
    assert sum(shared_scorer.sizes) == sum(sequential_scorer.sizes)
    assert stats.mean_batch > max(sequential_scorer.sizes) and len(shared_scorer.sizes) < len(sequential_scorer.sizes)


def test_cancel_stops_within_a_frame_and_leaves_no_thread():
    from streamthumb import Cancelled
    from streamthumb.events import CancelToken, Progress

    token = CancelToken()
    seen: list[float] = []

    def on_event(event):
        if isinstance(event, Progress):
            seen.append(event.t)
            if event.t >= 1.0:
                token.cancel()

    frames = list(frames_for(Segment("coffee", 4.0), 160, 120, 25.0, np.random.default_rng(0)))
    before = {t.name for t in threading.enumerate()}
    picker = Picker(Config(), scorer=BrightnessScorer(), fps=25.0, on_event=on_event, cancel=token)
    try:
        for i, frame in enumerate(frames):
            picker.push(frame, i / 25.0)
    except Cancelled as exc:
        assert "cancelled" in str(exc)
    else:
        raise AssertionError("push() went on after cancel()")
    finally:
        picker.close()
    assert max(seen) <= 1.0 + 1 / 25.0 + 1e-9
    alive = {t.name for t in threading.enumerate()} - before
    assert not [n for n in alive if n.startswith("streamthumb")], alive
    assert picker.frames_held == 0  # the memory went back, though we still hold the picker
