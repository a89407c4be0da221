"""Identities: file stamps, video keys and ids, and the config hash that decides what a rerun redoes."""

import os

import pytest

import streamthumb
from streamthumb import Config
from streamthumb.identity import (
    FINGERPRINT_SPAN,
    OUTPUT_NEUTRAL,
    config_hash,
    file_stamp,
    video_id,
    video_key,
)


def test_file_stamp_sees_both_ends_but_not_mtime(tmp_path):
    path = tmp_path / "v.mp4"
    data = bytearray(os.urandom(3 * FINGERPRINT_SPAN))
    path.write_bytes(data)
    base = file_stamp(path)
    assert base.size == len(data) and base.fingerprint.startswith(f"{len(data)}-")
    os.utime(path, (1, 1))
    assert file_stamp(path).fingerprint == base.fingerprint and file_stamp(path).mtime == 1
    for offset in (0, len(data) - 1):
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        path.write_bytes(changed)
        assert file_stamp(path).fingerprint != base.fingerprint
    path.write_bytes(b"")
    assert file_stamp(path).size == 0
    with pytest.raises(OSError):
        file_stamp(tmp_path / "missing.mp4")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_file_stamp_of_an_unreadable_file_has_no_fingerprint(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"x" * 10)
    path.chmod(0)
    stamp = file_stamp(path)
    assert (stamp.size, stamp.fingerprint) == (10, None)


def test_video_id_is_readable_distinct_and_stable():
    a, b = video_id("/lib/a/My Clip (1).mp4"), video_id("/lib/b/My Clip (1).mp4")
    assert a.startswith("My_Clip_1-") and b.startswith("My_Clip_1-")
    assert a != b and a == video_id("/lib/a/My Clip (1).mp4")
    assert video_id("/lib/???.mp4").startswith("video-")
    assert "/" not in video_id("/x/" + "é" * 80 + ".mkv")


def test_config_hash_follows_picks_not_speed():
    base = Config()
    for neutral in (
        {"runtime.batch_size": 4, "runtime.device": "cpu", "runtime.queue_size": 3},
        {"decode.threads": 2},
        {"scoring.cache_dir": "/mnt/models"},
    ):
        assert config_hash(base) == config_hash(base.with_overrides(neutral)), neutral
    for key, value in {
        "select.k": 5,
        "output.format": "png",
        "scoring.model": "RN50",
        "decode.sampling": "keyframes",
    }.items():
        assert config_hash(base) != config_hash(base.with_overrides({key: value})), key


def test_config_hash_changes_with_the_streamthumb_version(monkeypatch):
    before = config_hash(Config())
    monkeypatch.setattr(streamthumb, "__version__", "99.0.0")
    assert config_hash(Config()) != before
    monkeypatch.undo()
    assert config_hash(Config()) == before


def test_output_neutral_names_only_real_config_keys():
    data = Config().to_dict()
    for dotted in OUTPUT_NEUTRAL:
        node = data
        for part in dotted.split("."):
            assert part in node, f"{dotted}: no such config key; update OUTPUT_NEUTRAL"
            node = node[part]


def test_config_hash_sees_a_checkpoint_changed_in_place(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights v1")
    config = Config().with_overrides({"scoring.pretrained": str(ckpt)})
    first = config_hash(config)
    assert config_hash(config) == first
    ckpt.write_bytes(b"weights v2, retrained")
    assert config_hash(config) != first


def test_config_hash_sees_a_local_dir_model_changed_in_place(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"v1")
    config = Config().with_overrides({"scoring.model": f"local-dir:{folder}"})
    first = config_hash(config)
    os.utime(folder / "open_clip_model.safetensors", (1, 1))
    assert config_hash(config) != first


def test_video_key_resolves_links_but_keeps_a_broken_one(tmp_path):
    real = tmp_path / "real.mp4"
    real.write_bytes(b"x")
    (tmp_path / "alias.mp4").symlink_to(real)
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    assert video_key(str(tmp_path / "alias.mp4")) == os.path.realpath(real)
    assert video_key(str(tmp_path / "gone.mp4")) == str(tmp_path.resolve() / "gone.mp4")
