"""The examples run, and do what they say."""

import importlib.util
from pathlib import Path

import av
import pytest

from streamthumb import Config, pick
from synthetic import Segment, write_video

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tee") / "clip.mp4"
    shots = [Segment(n, 6.0) for n in ("astronaut", "coffee", "rocket", "chelsea", "camera")]
    write_video(path, shots, size=(320, 240), fps=8)
    return path


def test_the_transcode_tee_picks_what_pick_picks_and_writes_the_new_video(clip, tmp_path):
    config = Config().with_overrides({"scoring.model": "none", "runtime.device": "cpu"})
    tee = load("transcode_tee")
    out = tmp_path / "small.mp4"
    teed = tee.transcode_with_thumbnails(str(clip), str(out), config, width=160, codec="mpeg4")
    direct = pick(clip, config)
    assert [(p.t, p.shot, p.score) for p in teed.picks] == [(p.t, p.shot, p.score) for p in direct.picks]
    assert len(teed.picks) == 3 and teed.provenance == direct.provenance
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == (
            "mpeg4",
            160,
            120,
        )
        assert sum(1 for _ in container.decode(stream)) == direct.stats.frames_decoded == 240
