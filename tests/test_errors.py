import numpy as np
import pytest

import streamthumb as st
from conftest import ConstantScorer
from synthetic import Segment, write_video


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (st.VideoOpenError, st.InputError),
        (st.NoVideoStreamError, st.InputError),
        (st.EmptyVideoError, st.InputError),
        (st.DecodeError, st.InputError),
        (st.WeightsUnavailableError, st.ModelError),
        (st.InputError, st.StreamthumbError),
        (st.ConfigError, st.StreamthumbError),
        (st.ModelError, st.StreamthumbError),
        (st.OutputError, st.StreamthumbError),
    ],
)
def test_hierarchy(child, parent):
    assert issubclass(child, parent)


def test_corrupt_packets_mid_stream_are_not_fatal(tmp_path, tiny_config):
    path = tmp_path / "v.mp4"
    write_video(path, [Segment("astronaut", 2.0), Segment("coffee", 2.0)])
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    for offset in range(len(data) // 3, 2 * len(data) // 3, len(data) // 12):
        data[offset : offset + 300] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    result = st.pick(path, tiny_config, k=1, scorer=ConstantScorer())
    assert result.stats.corrupt_packets > 0 and len(result.picks) == 1


def test_truncated_matroska_gives_what_it_has_and_says_so(tmp_path, tiny_config):
    whole = tmp_path / "v.mkv"
    write_video(whole, [Segment("astronaut", 2.0), Segment("coffee", 2.0)])
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = st.pick(cut, tiny_config, k=1, scorer=ConstantScorer())
    assert 0 < result.stats.frames_decoded < 100
    assert result.stats.truncated and result.picks


def test_bad_frames_pushed_by_a_caller_are_frame_errors(tiny_config):
    picker = st.Picker(tiny_config, scorer=ConstantScorer())
    with pytest.raises(st.FrameError, match=r"\(H, W, 3\) uint8"):
        picker.push(np.zeros((10, 10), np.uint8), 0.0)
    picker.close()
