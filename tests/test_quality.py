"""Every pick a good frame: a video of known bad frames, and scorers that prefer them.

The filters, not the model, must keep bad frames out, so each scorer here loves one family of
bad frames (blur, flat graphics, noise, darkness, milky brightness), and the model-free scorer
runs too. Fades and dissolves count as bad from their first frame.
"""

import json

import badframes as bf
import pytest
import torch
from badframes import Clip

from streamthumb import Config, Scorer, pick
from streamthumb.cli import main
from streamthumb.filters import Views
from streamthumb.filters.sharpness import laplacian_variance
from streamthumb.scoring import ModelFreeScorer

CLIPS = [
    *bf.edited("coffee", None, (2.0, 1.0, 0)),
    Clip("black", 0.6, lambda n, w, h: bf.black(n, w, h)),
    *bf.edited("astronaut", "chelsea", (2.0, 1.0, 2.0)),
    Clip("motion_x", 1.2, lambda n, w, h: bf.motion_blur("coffee", n, w, h, "x")),
    Clip("motion_y", 1.2, lambda n, w, h: bf.motion_blur("brick", n, w, h, "y")),
    Clip("defocus", 1.2, lambda n, w, h: bf.defocus("rocket", n, w, h)),
    Clip("good", 2.0, lambda n, w, h: bf.good("camera", n, w, h)),
    Clip("washed_out", 1.2, lambda n, w, h: bf.washed_out("astronaut", n, w, h)),
    Clip("static", 1.0, lambda n, w, h: bf.static(n, w, h)),
    Clip("colour_bars", 1.0, lambda n, w, h: bf.colour_bars(n, w, h)),
    Clip("slate", 1.0, lambda n, w, h: bf.slate(n, w, h)),
    Clip("good", 2.0, lambda n, w, h: bf.good("rocket", n, w, h)),
    Clip("credits", 1.5, lambda n, w, h: bf.credits(n, w, h)),
    Clip("end_card", 1.2, lambda n, w, h: bf.end_card(n, w, h)),
]


@pytest.fixture(scope="module")
def bad_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "bad.mp4"
    return path, bf.write_clips(path, CLIPS)


class Loves(Scorer):
    """An adversary: scores frames by how much of one bad quality they have."""

    device = torch.device("cpu")

    def __init__(self, what: str):
        self.what = what

    def score(self, images: torch.Tensor) -> torch.Tensor:
        views = Views(images)
        gray = views.gray.flatten(1)
        measure = {
            "blur": lambda: -laplacian_variance(views.gray).log1p(),
            "flat": lambda: -(gray - gray.mean(dim=1, keepdim=True)).abs().mean(dim=1),
            "noise": lambda: laplacian_variance(views.gray).log1p(),
            "dark": lambda: -gray.mean(dim=1),
            "bright": lambda: gray.mean(dim=1),
        }[self.what]()
        return measure / 1000.0


def kind_at(spans, t: float) -> str:
    return next(kind for kind, start, end in spans if start <= t < end)


SCORERS = {name: (lambda name=name: Loves(name)) for name in ("blur", "flat", "noise", "dark", "bright")}
SCORERS["model-free"] = ModelFreeScorer


@pytest.mark.parametrize("scorer", SCORERS)
def test_no_bad_frame_is_ever_picked(scorer, bad_video):
    path, spans = bad_video
    config = Config().with_overrides({"runtime.device": "cpu", "candidates.every": 0.4})
    result = pick(path, config, k=3, scorer=SCORERS[scorer]())
    picked = [(round(p.t, 2), kind_at(spans, p.t)) for p in result.picks]
    assert len(picked) == 3 and all(kind == "good" for _, kind in picked), picked
    rejected = {c.t: c.reasons for c in result.candidates if c.fate == "rejected"}
    bad_kinds = {kind_at(spans, t) for t in rejected}
    expected = {"fade", "black", "dissolve", "motion_x", "motion_y", "defocus", "washed_out", "static"}
    assert expected | {"colour_bars", "slate", "credits", "end_card"} <= bad_kinds


def test_the_reasons_name_what_was_wrong(bad_video):
    path, spans = bad_video
    config = Config().with_overrides({"runtime.device": "cpu", "candidates.every": 0.4})
    result = pick(path, config, k=3, scorer=ModelFreeScorer())
    reasons: dict[str, set[str]] = {}
    for c in result.candidates:
        if c.fate == "rejected":
            reasons.setdefault(kind_at(spans, c.t), set()).update(c.reasons)
    expect = {
        "fade": "fade",
        "dissolve": "dissolve",
        "motion_x": "motion_blur",
        "motion_y": "motion_blur",
        "defocus": "blurry",
        "washed_out": "washed_out",
        "static": "noise",
        "colour_bars": "graphic",
        "slate": "graphic",
        "credits": "graphic",
        "end_card": "graphic",
        "black": "dark",
    }
    for kind, reason in expect.items():
        assert reason in reasons.get(kind, set()), (kind, reasons.get(kind))
    assert sum(result.stats.rejected.values()) >= len(expect)


@pytest.mark.slow
def test_model_none_from_the_command_line(bad_video, tmp_path, capsys):
    path, spans = bad_video
    code = main(
        ["pick", str(path), "--model", "none", "--json", "-q", "--out", str(tmp_path), "--set", "candidates.every=0.4"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and len(doc["picks"]) == 3
    assert all(kind_at(spans, p["t"]) == "good" for p in doc["picks"])
    components = doc["picks"][0]["components"]
    assert {"clip", "q_sharpness", "q_exposure", "q_contrast", "q_colour", "q_centre", "q_crispness"} <= set(components)
    assert components["clip"] == 0.0


def test_a_short_uncut_clip_still_gets_k_picks(tmp_path):
    path = tmp_path / "short.mp4"
    bf.write_clips(path, [Clip("good", 5.0, lambda n, w, h: bf.good("coffee", n, w, h))])
    result = pick(path, Config().with_overrides({"runtime.device": "cpu"}), k=3, scorer=ModelFreeScorer())
    assert len(result.picks) == 3 and result.shortfall is None
    assert result.stats.candidates >= 9  # per_pick (3) per requested pick
    times = sorted(p.t for p in result.picks)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 5.0 / 4 - 1e-6  # duration / (k + 1)


def test_any_subset_of_filters_runs(bad_video):
    """The soft-frame rule needs the sharpness signal; without that filter it stands down."""
    path, spans = bad_video
    config = Config().with_overrides({"runtime.device": "cpu", "filters.enabled": ["blur", "exposure"]})
    result = pick(path, config, k=3, scorer=ModelFreeScorer())
    assert len(result.picks) == 3 and "soft" not in result.stats.rejected


@pytest.mark.parametrize("scorer", ["model-free", "flat"])
def test_keyframe_mode_picks_no_bad_frame_either(scorer, bad_video):
    """Keyframes sit on the cuts; they must not all be thrown out as "near a cut"."""
    path, spans = bad_video
    config = Config().with_overrides({"runtime.device": "cpu", "decode.sampling": "keyframes"})
    result = pick(path, config, k=3, scorer=SCORERS[scorer]())
    assert len(result.picks) == 3 and all(kind_at(spans, p.t) == "good" for p in result.picks)
    assert "near_cut" not in result.stats.rejected
