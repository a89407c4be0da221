from streamthumb.candidates import CandidatePlanner
from streamthumb.config import CandidatesConfig

FPS = 25


def run(planner: CandidatePlanner, seconds: float, cuts_at: dict[int, list[float]] | None = None):
    """Push ``seconds`` of frames, adding cuts when the given frame index is reached."""
    out = []
    n = round(seconds * FPS)
    for i in range(n):
        if cuts_at and i in cuts_at:
            planner.add_cuts(cuts_at[i])
        out += planner.push(i, i / FPS, frame=f"frame{i}")
    return out + planner.finish()


def test_shot_start_plus_offset_and_uniform_samples():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    got = run(planner, 10.0, {110: [4.0]})  # cut at 4.0 s reported 10 frames late
    assert [(round(c.t, 2), c.origin, c.shot) for c in got] == [
        (0.4, "shot", 0),
        (3.0, "uniform", 0),
        (4.4, "shot", 1),
        (6.0, "uniform", 1),
        (9.0, "uniform", 1),
    ]
    assert all(c.frame == f"frame{c.index}" for c in got)


def test_uniform_sample_next_to_a_shot_candidate_is_deduplicated():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    got = run(planner, 5.0, {80: [2.8]})
    times = [round(c.t, 2) for c in got]
    assert 3.2 in times and 3.0 not in times  # 3.0 s lies 0.2 s before shot 1's candidate


def test_short_shot_gets_its_middle_frame_inside_the_shot():
    planner = CandidatePlanner(CandidatesConfig(every=0), lookahead=30)
    got = run(planner, 3.0, {50: [1.0, 1.2]})  # shot 1 lasts 0.2 s < offset
    short = [c for c in got if c.shot == 1]
    assert len(short) == 1 and 1.0 <= short[0].t < 1.2


def test_video_shorter_than_offset_still_has_a_candidate():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    got = run(planner, 0.2)
    assert len(got) == 1 and got[0].t < 0.2


def test_single_frame_video():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=30)
    planner.push(0, 0.0, "only")
    got = planner.finish()
    assert [(c.index, c.origin) for c in got] == [(0, "shot")]


def test_window_never_exceeds_lookahead():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=12)
    for i in range(500):
        planner.push(i, i / FPS, None)
        assert planner.held <= 12


def test_every_frame_mode_makes_each_frame_a_candidate():
    planner = CandidatePlanner(CandidatesConfig(), lookahead=3, every_frame=True)
    got = run(planner, 0.4)
    assert [c.index for c in got] == list(range(10)) and {c.origin for c in got} == {"keyframe"}
