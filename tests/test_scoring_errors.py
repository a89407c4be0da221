"""How ``load_scorer`` fails: one clear line, fast without network, and nothing printed.

No test here reaches the network: ``no_network`` replaces name resolution and connect at the
socket level, so the library's own probe of the hub fails the way an offline machine makes it
fail (instantly when DNS fails, after the timeout when packets are dropped).
"""

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import open_clip
import pytest
import torch

from streamthumb import ModelError, WeightsUnavailableError, load_scorer
from streamthumb.config import ScoringConfig
from synthetic import TINY_CLIP, Segment, write_video

FIX = (
    r"Fix: run once with network access \(HF_HUB_OFFLINE unset\), or pass --pretrained /path/to/checkpoint, "
    r"or --model local-dir:/path, or rank without CLIP: --model none$"
)


@pytest.fixture(params=["dns-fails", "packets-dropped"])
def no_network(request, monkeypatch):
    """A machine without network; returns the list of hosts something tried to resolve."""
    tried: list[str] = []

    def resolve(host, port, *args, **kwargs):
        tried.append(host)
        if request.param == "dns-fails":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port))]  # TEST-NET-1, never sent to

    def connect(sock, address):
        time.sleep(sock.gettimeout() or 60)  # a dropped SYN waits out the whole timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return tried


@pytest.fixture
def online_flag(monkeypatch):
    """HF_HUB_OFFLINE unset, whatever the developer's shell exports, so the probe path runs."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def _save_clip(path: Path, cfg: dict) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(open_clip.CLIP(**cfg).state_dict(), str(path))
    return path


# --- 1. a checkpoint that does not fit, or is no checkpoint at all ---


def test_wrong_architecture_says_what_does_not_fit(tiny_clip_dir):
    cfg = ScoringConfig(model="ViT-B-32", pretrained=str(tiny_clip_dir / "open_clip_model.safetensors"))
    with pytest.raises(ModelError) as info:
        load_scorer(cfg, "cpu")
    message = str(info.value)
    assert not isinstance(info.value, WeightsUnavailableError)
    assert "\n" not in message and "Fix:" in message
    assert "does not fit the ViT-B-32 architecture (240 keys missing, 0 unexpected, 61 mis-shaped;" in message
    assert "visual.conv1.weight is [64, 3, 16, 16] in the file but [768, 3, 32, 32] in ViT-B-32" in message


def test_wrong_architecture_names_the_model_it_fits(tmp_path, tiny_clip_dir):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "streamthumb-tiny.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "configs")
    cfg = ScoringConfig(model="ViT-B-32", pretrained=str(tiny_clip_dir / "open_clip_model.safetensors"))
    with pytest.raises(
        ModelError,
        match=r"it fits streamthumb-tiny\. Fix: pass --model streamthumb-tiny, or a checkpoint made for ViT-B-32$",
    ):
        load_scorer(cfg, "cpu")


def test_unknown_architecture_is_described(tmp_path):
    odd = {**TINY_CLIP, "vision_cfg": {**TINY_CLIP["vision_cfg"], "width": 48, "head_width": 24}}
    ckpt = _save_clip(tmp_path / "odd.safetensors", odd)
    with pytest.raises(
        ModelError,
        match=r"no built-in open_clip model fits it \(a ViT with embed dim 32, width 48, patch 16, layers 2\)\. Fix: pass the --model it was trained as",
    ):
        load_scorer(ScoringConfig(model="ViT-B-32", pretrained=str(ckpt)), "cpu")


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("notes.txt", b"hello world\n", "it is text"),
        ("weights.pt", b"", "it is empty"),
        ("clip.mp4", None, "it is a video"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_called_that(tmp_path, name, content, what):
    path = tmp_path / name
    if content is None:
        write_video(path, [Segment("coffee", 0.2)])
    else:
        path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_scorer(ScoringConfig(model="ViT-B-32", pretrained=str(path)), "cpu")
    assert str(info.value) == (
        f"cannot build ViT-B-32 from {path}: {path} is not a PyTorch or safetensors checkpoint ({what}). "
        "Fix: pass the model's weights file (.safetensors, .pt or .bin)"
    )


def test_corrupt_local_dir_weights_name_the_file(tmp_path, tiny_clip_dir):
    folder = tmp_path / "m"
    shutil.copytree(tiny_clip_dir, folder)
    (folder / "open_clip_model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(
        ModelError,
        match=r"open_clip_model\.safetensors is not a PyTorch or safetensors checkpoint \(it is text\)\. Fix: put the weights",
    ):
        load_scorer(ScoringConfig(model=f"local-dir:{folder}"), "cpu")


def test_safetensors_with_a_pickle_name_asks_for_a_rename(tmp_path, tiny_clip_dir):
    ckpt = tmp_path / "tiny.bin"
    shutil.copy(tiny_clip_dir / "open_clip_model.safetensors", ckpt)
    with pytest.raises(
        ModelError,
        match=r"holds safetensors weights but its name ends in '\.bin'.*Fix: rename it to end in \.safetensors$",
    ):
        load_scorer(ScoringConfig(model="ViT-B-32", pretrained=str(ckpt)), "cpu")


# --- 2. nothing printed, nothing lost ---


def test_open_clip_logs_go_to_our_debug_log_not_the_root(caplog, tiny_clip_dir):
    from huggingface_hub.utils import are_progress_bars_disabled

    root, hub = logging.getLogger(), logging.getLogger("huggingface_hub")
    before = (root.handlers[:], root.filters[:], hub.handlers[:], hub.propagate, are_progress_bars_disabled())
    caplog.set_level(logging.DEBUG)
    load_scorer(ScoringConfig(model=f"local-dir:{tiny_clip_dir}"), "cpu")
    assert [r for r in caplog.records if not r.name.startswith("streamthumb")] == []
    assert any(r.name == "streamthumb.scoring" and r.getMessage().startswith("open_clip: ") for r in caplog.records)
    assert (root.handlers, root.filters, hub.handlers, hub.propagate, are_progress_bars_disabled()) == before


QUIET_SCRIPT = """
import socket, sys
def resolve(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
socket.getaddrinfo = resolve  # an offline machine; nothing is ever sent
import logging, streamthumb
from streamthumb.config import ScoringConfig
cache, tiny, notes = sys.argv[1:]
configs = [
    ScoringConfig(cache_dir=cache),
    ScoringConfig(model="ViT-B-32", pretrained=f"{tiny}/open_clip_model.safetensors"),
    ScoringConfig(model="ViT-B-32", pretrained=notes),
]
for cfg in configs:
    try:
        streamthumb.load_scorer(cfg, "cpu")
    except streamthumb.ModelError as exc:
        print(type(exc).__name__, "\\n" in str(exc))
streamthumb.load_scorer(ScoringConfig(model=f"local-dir:{tiny}"), "cpu")
print("root handlers", len(logging.getLogger().handlers))
"""


@pytest.mark.slow
def test_loading_prints_nothing(tmp_path, tiny_clip_dir):
    """Default weights without network, bad checkpoints and a good load: stdout is ours, stderr empty."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a checkpoint\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    argv = [sys.executable, "-c", QUIET_SCRIPT, str(tmp_path / "empty-cache"), str(tiny_clip_dir), str(notes)]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert out.stderr == ""
    assert out.stdout.splitlines() == [
        "WeightsUnavailableError False",
        "ModelError False",
        "ModelError False",
        "root handlers 0",  # open_clip's logging.info never got to run basicConfig
    ]


# --- 3. fast failure without weights ---


def test_uncached_default_weights_fail_fast_without_network(no_network, online_flag, tmp_path):
    cfg = ScoringConfig(cache_dir=str(tmp_path / "empty-cache"))
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        load_scorer(cfg, "cpu")
    elapsed = time.monotonic() - start
    assert elapsed < 10, f"took {elapsed:.1f} s"  # a bound on behaviour (no hub retries), not a benchmark
    assert no_network, "the library decides by probing the hub"
    message = str(info.value)
    assert "\n" not in message and message.endswith("rank without CLIP: --model none")
    pattern = (
        r"^weights ViT-B-32/laion2b_s34b_b79k are not in the cache \(.*empty-cache\) and cannot be downloaded "
        r"\((proxy )?\S+:\d+ (is unreachable: .+|did not answer within 3 s)\)\. " + FIX
    )
    assert re.match(pattern, message), message


def test_offline_flag_fails_at_once_without_touching_the_network(no_network, monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match=r"cannot be downloaded \(HF_HUB_OFFLINE is set\)\. " + FIX):
        load_scorer(ScoringConfig(cache_dir=str(tmp_path / "empty-cache")), "cpu")
    assert time.monotonic() - start < 5
    assert no_network == []


def _fake_hub_cache(cache: Path, repo: str, folder: Path) -> None:
    """The layout ``hf_hub_download`` leaves behind, filled with the tiny model's files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(folder, root / "snapshots" / commit)


def test_cached_hub_weights_load_without_touching_the_network(no_network, online_flag, tmp_path, tiny_clip_dir):
    _fake_hub_cache(tmp_path / "cache", "streamthumb/tiny-clip", tiny_clip_dir)
    cfg = ScoringConfig(model="hf-hub:streamthumb/tiny-clip", cache_dir=str(tmp_path / "cache"))
    start = time.monotonic()
    scorer = load_scorer(cfg, "cpu")
    assert time.monotonic() - start < 10
    assert no_network == []
    assert scorer.score(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)).shape == (1,)
