"""The encoder cache: a cold CPU load reads the traced image tower and the prompts' embeddings,
and anything changed or broken falls back to open_clip and the real weights."""

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from streamthumb import ModelError, _encoder_cache, pick
from streamthumb._encoder_cache import WRITER, load_cached_scorer
from streamthumb.config import ScoringConfig
from streamthumb.errors import StreamthumbError
from streamthumb.scoring import load_scorer
from synthetic import save_tiny_clip

IMAGES = torch.randint(0, 256, (5, 3, 90, 160), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def load(cfg: ScoringConfig, root: Path):
    """``load_cached_scorer``, then wait for the entry it writes."""
    scorer = load_cached_scorer(cfg, "cpu", root=root)
    wait_for_writers()
    return scorer


def wait_for_writers() -> None:
    for thread in threading.enumerate():
        if thread.name == WRITER:
            thread.join()


@pytest.fixture
def model_dir(tmp_path) -> Path:
    return save_tiny_clip(tmp_path / "tiny")


def test_the_second_load_reads_the_cache_and_scores_alike(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    first, second = load(cfg, tmp_path / "cache"), load(cfg, tmp_path / "cache")
    assert first.model is not None and second.model is None  # the second never built open_clip's model
    for images in (IMAGES[:1], IMAGES):  # traced on a batch of 2; any batch size runs
        (s1, e1), (s2, e2) = first.score_and_embed(images), second.score_and_embed(images)
        assert torch.allclose(s1, s2, atol=1e-5) and torch.allclose(e1, e2, atol=1e-5)
    assert second.provenance() == first.provenance()
    assert second.provenance()["weights_sha256"]


def test_a_cache_hit_never_imports_open_clip(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    load(cfg, tmp_path / "cache")
    code = (
        "import sys; from pathlib import Path; from streamthumb.config import ScoringConfig; "
        "from streamthumb._encoder_cache import load_cached_scorer; "
        f"s = load_cached_scorer(ScoringConfig(model={cfg.model!r}), 'cpu', root=Path({str(tmp_path / 'cache')!r})); "
        "assert s.model is None, 'not read from the cache'; "
        "assert 'open_clip' not in sys.modules, 'open_clip was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rewritten_weights_are_loaded_not_the_cached_trace(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    old = load(cfg, tmp_path / "cache").score(IMAGES)
    save_tiny_clip(tmp_path / "other", seed=7)
    shutil.copy(tmp_path / "other" / "open_clip_model.safetensors", model_dir / "open_clip_model.safetensors")
    new = load(cfg, tmp_path / "cache")
    assert new.model is not None
    expected = load_scorer(cfg, "cpu").score(IMAGES)
    assert torch.allclose(new.score(IMAGES), expected, atol=1e-6) and not torch.allclose(expected, old, atol=1e-4)
    rebuilt = load(cfg, tmp_path / "cache")  # the entry, prompts included, was rebuilt for the new weights
    assert rebuilt.model is None and torch.allclose(rebuilt.score(IMAGES), expected, atol=1e-5)


def test_weights_deleted_after_caching_fail_the_load_as_before(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    load(cfg, tmp_path / "cache")
    (model_dir / "open_clip_model.safetensors").unlink()
    with pytest.raises(StreamthumbError):
        load(cfg, tmp_path / "cache")


def test_a_damaged_prompts_file_loads_the_normal_way_and_is_repaired(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    expected = load(cfg, tmp_path / "cache").score(IMAGES)
    (prompts,) = (tmp_path / "cache").glob("*/prompts-*.pt")
    prompts.write_bytes(prompts.read_bytes()[:100])
    damaged = load(cfg, tmp_path / "cache")
    assert damaged.model is not None and torch.allclose(damaged.score(IMAGES), expected, atol=1e-6)
    repaired = load(cfg, tmp_path / "cache")
    assert repaired.model is None and torch.allclose(repaired.score(IMAGES), expected, atol=1e-5)


def test_a_checkpoint_added_to_the_folder_is_seen(model_dir, tmp_path):
    """open_clip prefers open_clip_model.safetensors: the cache must not keep the .bin's tower."""
    from safetensors.torch import load_file

    safetensors = model_dir / "open_clip_model.safetensors"
    torch.save({k: v.clone() for k, v in load_file(safetensors).items()}, model_dir / "open_clip_pytorch_model.bin")
    safetensors.unlink()
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    old = load(cfg, tmp_path / "cache").score(IMAGES)
    shutil.copy(save_tiny_clip(tmp_path / "other", seed=7) / "open_clip_model.safetensors", model_dir)
    new = load(cfg, tmp_path / "cache")
    assert new.model is not None and not torch.allclose(new.score(IMAGES), old, atol=1e-4)
    assert new.provenance()["weights_file"] == "open_clip_model.safetensors"


def test_weights_replaced_while_loading_are_not_vouched_for(model_dir, tmp_path, monkeypatch):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    real_trace = _encoder_cache._trace

    def replace_then_trace(visual, preprocess):
        other = save_tiny_clip(tmp_path / "other", seed=7) / "open_clip_model.safetensors"
        shutil.copy(other, model_dir / "open_clip_model.safetensors")  # a new export lands mid-pick
        return real_trace(visual, preprocess)

    monkeypatch.setattr(_encoder_cache, "_trace", replace_then_trace)
    load(cfg, tmp_path / "cache")
    monkeypatch.setattr(_encoder_cache, "_trace", real_trace)
    after = load(cfg, tmp_path / "cache")
    assert after.model is not None  # no entry for the old tower under the new file's stamp
    assert torch.allclose(after.score(IMAGES), load_scorer(cfg, "cpu").score(IMAGES), atol=1e-6)


def test_an_unreadable_image_file_is_a_miss_not_an_error_and_is_rewritten(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    expected = load(cfg, tmp_path / "cache").score(IMAGES)
    (image,) = (tmp_path / "cache").glob("*/image.pt")
    image.write_bytes(b"not torchscript")  # the manifest still says the entry is current
    scorer = load(cfg, tmp_path / "cache")
    assert scorer.model is not None and torch.allclose(scorer.score(IMAGES), expected, atol=1e-6)
    assert load(cfg, tmp_path / "cache").model is None


def test_the_tower_code_and_weights_are_saved_apart_and_checked_against_each_other(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    expected = load(cfg, tmp_path / "cache").score(IMAGES)
    (image,) = (tmp_path / "cache").glob("*/image.pt")
    saved = torch.load(image, weights_only=True)
    # The weights are a plain state dict (mapped into memory on a read), the code holds none.
    assert len(saved["code"]) < sum(t.nbytes for t in saved["weights"].values())
    saved["weights"].pop(next(iter(saved["weights"])))
    torch.save(saved, image)  # a slot left empty would score garbage or fail mid-pick
    scorer = load(cfg, tmp_path / "cache")
    assert scorer.model is not None and torch.allclose(scorer.score(IMAGES), expected, atol=1e-6)
    hit = load(cfg, tmp_path / "cache")
    assert hit.model is None and torch.allclose(hit.score(IMAGES), expected, atol=1e-5)


def test_new_prompts_reuse_the_image_tower(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}")
    load(cfg, tmp_path / "cache")
    (image,) = (tmp_path / "cache").glob("*/image.pt")
    written = image.stat().st_mtime_ns
    other = ScoringConfig(model=cfg.model, positive=("a dog",), negative=())
    assert load(other, tmp_path / "cache").model is not None  # the new prompts need the text tower once
    hit = load(other, tmp_path / "cache")
    assert hit.model is None and hit.prompts.positive == ("a dog",) and hit.prompts.negative_emb is None
    assert torch.allclose(hit.score(IMAGES), load_scorer(other, "cpu").score(IMAGES), atol=1e-5)
    assert image.stat().st_mtime_ns == written and len(list(image.parent.glob("prompts-*.pt"))) == 2


def test_reduced_precision_is_never_cached(model_dir, tmp_path):
    cfg = ScoringConfig(model=f"local-dir:{model_dir}", precision="bf16")
    assert load(cfg, tmp_path / "cache").model is not None
    assert not (tmp_path / "cache").exists()


def test_a_missing_model_still_fails_in_its_own_words(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        load(ScoringConfig(model=f"local-dir:{tmp_path / 'missing'}"), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_pick_reads_the_cache_and_picks_alike_and_can_be_told_not_to(
    standard_video, tiny_config, tmp_path, monkeypatch
):
    import streamthumb._weights

    monkeypatch.setenv("STREAMTHUMB_CACHE_DIR", str(tmp_path / "cache"))
    first = pick(standard_video[0], tiny_config)
    wait_for_writers()
    assert list((tmp_path / "cache" / "encoders").glob("*/image.pt"))

    def no_open_clip(*args):
        raise AssertionError("the model was built with open_clip, not read from the cache")

    monkeypatch.setattr(streamthumb._weights, "load_model", no_open_clip)
    second = pick(standard_video[0], tiny_config)
    monkeypatch.undo()
    assert [(p.t, round(p.score, 5)) for p in second.picks] == [(p.t, round(p.score, 5)) for p in first.picks]
    assert second.provenance == first.provenance
    monkeypatch.setenv("STREAMTHUMB_CACHE_DIR", str(tmp_path / "off"))
    pick(standard_video[0], tiny_config.with_overrides({"scoring.encoder_cache": False}))
    wait_for_writers()
    assert not os.path.exists(tmp_path / "off")
