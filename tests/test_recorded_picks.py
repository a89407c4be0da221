"""The pipeline's picks on generated videos equal those recorded before the seams refactor."""

import json

import pytest
from record_picks import CASES, OUT, SCORERS, make_videos, run_case

RECORDED = json.loads(OUT.read_text())


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("recorded"))


@pytest.mark.parametrize("video", CASES)
@pytest.mark.parametrize("scorer", SCORERS)
def test_same_picks_as_recorded(video, scorer, videos):
    for k in (1, 3, 5):
        assert run_case(videos[video], scorer, k) == RECORDED[f"{video}/{scorer}/k{k}"], (video, scorer, k)
