"""Diversity on content: K picks are K different pictures, even across shots and close in time."""

import torch

from conftest import BrightnessScorer
from streamthumb import Config, pick
from streamthumb.scoring import ModelFreeScorer
from synthetic import Segment, write_video

CONFIG = Config().with_overrides({"runtime.device": "cpu", "faces.enabled": False})
HISTOGRAM = ModelFreeScorer()


class BrightWithHistograms(BrightnessScorer):
    """Likes bright frames (the astronaut), and embeds colour histograms like ``--model none``."""

    def score_and_embed(self, images: torch.Tensor):
        return self.score(images), HISTOGRAM.score_and_embed(images)[1]


class LikesThese(ModelFreeScorer):
    """Scores a frame by its colour-histogram similarity to the frames it was shown."""

    def __init__(self, *examples: torch.Tensor):
        super().__init__()
        self.refs = torch.stack([super(LikesThese, self).score_and_embed(e[None])[1][0] for e in examples])

    def score_and_embed(self, images: torch.Tensor):
        emb = super().score_and_embed(images)[1]
        return (emb @ self.refs.T).max(dim=1).values, emb


def segment_at(segments, t: float) -> str:
    end = 0.0
    for seg in segments:
        end += seg.seconds
        if t < end:
            return seg.photo
    return segments[-1].photo


def test_an_interview_cut_a_b_a_b_gives_both_faces_not_three_of_one(tmp_path):
    segments = [Segment(p, 2.0) for p in ("astronaut", "coffee") * 3]
    path = tmp_path / "abab.mp4"
    write_video(path, segments)
    old = pick(path, CONFIG.with_overrides({"select.diversity": 0.0}), k=3, scorer=BrightWithHistograms())
    assert {segment_at(segments, p.t) for p in old.picks} == {"astronaut"}  # the time-gap rules alone
    new = pick(path, CONFIG, k=3, scorer=BrightWithHistograms())
    assert sorted(segment_at(segments, p.t) for p in new.picks[:2]) == ["astronaut", "coffee"]  # the top two differ
    strict = pick(path, CONFIG.with_overrides({"select.fill": False}), k=3, scorer=BrightWithHistograms())
    assert sorted(segment_at(segments, p.t) for p in strict.picks) == ["astronaut", "coffee"]  # two pictures, two picks
    assert "look like the picks" in strict.shortfall
    losers = [c for c in strict.candidates if c.fate != "picked"]
    assert losers and all((c.fate_detail or "").startswith("duplicate of pick") for c in losers)


def test_two_different_scenes_one_second_apart_can_both_be_picked(tmp_path):
    from synthetic import photo

    segments = [Segment("chelsea", 4.0), Segment("coffee", 1.0), Segment("astronaut", 1.0), Segment("chelsea", 4.0)]
    path = tmp_path / "close.mp4"
    write_video(path, segments)
    examples = [
        torch.from_numpy(photo(name, 320, 240)[:240, :320].copy()).permute(2, 0, 1) for name in ("coffee", "astronaut")
    ]
    result = pick(path, CONFIG, k=2, scorer=LikesThese(*examples))
    assert sorted(segment_at(segments, p.t) for p in result.picks) == ["astronaut", "coffee"]
    assert abs(result.picks[0].t - result.picks[1].t) <= 1.0 + 1e-6
    legacy = pick(path, CONFIG.with_overrides({"select.diversity": 0.0}), k=2, scorer=LikesThese(*examples))
    assert abs(legacy.picks[0].t - legacy.picks[1].t) >= 2.0  # the time gap alone keeps them apart


def test_diversity_off_is_the_plain_greedy_rule(tmp_path):
    segments = [Segment(p, 2.0) for p in ("astronaut", "coffee", "camera", "rocket")]
    path = tmp_path / "four.mp4"
    write_video(path, segments)
    on = pick(path, CONFIG.with_overrides({"select.diversity": 0.0}), k=3, scorer=BrightnessScorer())
    scores = [p.score for p in on.picks]
    assert scores == sorted(scores, reverse=True)
