import json

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from streamthumb import ModelError, WeightsUnavailableError, load_scorer
from streamthumb.config import ScoringConfig
from synthetic import TINY_CLIP, photo, save_tiny_clip


@pytest.fixture(scope="module")
def scorer(tiny_clip_dir):
    return load_scorer(ScoringConfig(model=f"local-dir:{tiny_clip_dir}"), "cpu")


def batch(*names, size=(160, 120)):
    arrays = [photo(n, *size)[: size[1], : size[0]] for n in names]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def test_local_dir_model_scores_a_batch(scorer):
    images = batch("astronaut", "coffee", "rocket")
    scores = scorer.score(images)
    assert scores.shape == (3,) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


def test_batched_scores_equal_one_by_one(scorer):
    images = batch("astronaut", "coffee", "rocket", "brick")
    together = scorer.score(images)
    alone = torch.cat([scorer.score(images[i : i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_score_is_max_positive_minus_mean_negative(tiny_clip_dir):
    cfg = ScoringConfig(model=f"local-dir:{tiny_clip_dir}", positive=("a", "b"), negative=("c", "d", "e"))
    s = load_scorer(cfg, "cpu")
    images = batch("coffee", "camera")
    emb = s.embed(images)
    tok = open_clip.get_tokenizer(cfg.model)
    text = torch.nn.functional.normalize(s.model.encode_text(tok(["a", "b", "c", "d", "e"])).float(), dim=-1)
    sims = emb @ text.T
    expected = sims[:, :2].max(dim=1).values - sims[:, 2:].mean(dim=1)
    assert torch.allclose(s.score(images), expected, atol=1e-5)


def test_tensor_preprocessing_matches_open_clips_own_transform(scorer, tiny_clip_dir):
    """Our GPU-side resize/crop/normalize must feed the model what its PIL transform would."""
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{tiny_clip_dir}")
    images = batch("astronaut", "chelsea", size=(320, 180))
    ours = scorer.preprocess(images)
    theirs = torch.stack([transform(Image.fromarray(img.permute(1, 2, 0).numpy())) for img in images])
    assert ours.shape == theirs.shape == (2, 3, 64, 64)
    # Embeddings, not pixels, are what matter: resamplers differ by a few levels at edges.
    e_ours = torch.nn.functional.normalize(scorer.model.encode_image(ours), dim=-1)
    e_theirs = torch.nn.functional.normalize(scorer.model.encode_image(theirs), dim=-1)
    assert (e_ours * e_theirs).sum(dim=1).min() > 0.99


def test_pretrained_checkpoint_file_loads_through_the_name_path(tmp_path, tiny_clip_dir):
    """``--model NAME --pretrained FILE`` with an architecture open_clip knows by name."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "streamthumb-tiny.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "configs")
    model = open_clip.create_model("streamthumb-tiny")
    ckpt = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), ckpt)
    s = load_scorer(ScoringConfig(model="streamthumb-tiny", pretrained=str(ckpt)), "cpu")
    for a, b in zip(s.model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # the file's weights, not a fresh random init


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1, as a user would export it; the hub reads it once at import."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_uncached_tag_offline_names_the_model_and_the_fix(offline, tmp_path):
    cfg = ScoringConfig(model="ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsUnavailableError, match=r"ViT-B-32.*laion2b_s34b_b79k.*empty-cache.*Fix:"):
        load_scorer(cfg, "cpu")


@pytest.mark.parametrize(
    ("cfg", "error", "match"),
    [
        (ScoringConfig(model="ViT-B-33"), ModelError, r"unknown model 'ViT-B-33'.*Did you mean.*ViT-B-32"),
        (
            ScoringConfig(pretrained=""),
            WeightsUnavailableError,
            r"no weights configured for ViT-B-32.*laion2b_s34b_b79k",
        ),
        (ScoringConfig(pretrained="/no/such/ckpt.pt"), WeightsUnavailableError, "neither a pretrained tag of ViT-B-32"),
        (ScoringConfig(model="local-dir:/no/such/dir"), WeightsUnavailableError, "no open_clip_config.json"),
    ],
)
def test_bad_model_settings_fail_clearly(cfg, error, match):
    with pytest.raises(error, match=match):
        load_scorer(cfg, "cpu")


def test_local_dir_without_weights_is_refused_not_randomly_initialised(tmp_path):
    folder = save_tiny_clip(tmp_path / "m")
    (folder / "open_clip_model.safetensors").unlink()
    with pytest.raises(WeightsUnavailableError, match="has a config but no weights"):
        load_scorer(ScoringConfig(model=f"local-dir:{folder}"), "cpu")


def test_hf_hub_unreachable_is_a_weights_error(offline, tmp_path):
    cfg = ScoringConfig(model="hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", cache_dir=str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match=r"hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K.*Fix:"):
        load_scorer(cfg, "cpu")


def test_corrupt_checkpoint_is_a_model_error(tmp_path):
    folder = save_tiny_clip(tmp_path / "m")
    (folder / "open_clip_model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_scorer(ScoringConfig(model=f"local-dir:{folder}"), "cpu")


@pytest.mark.needs_cuda
def test_cuda_autocast_scores_match_fp32(tiny_clip_dir):
    cfg = ScoringConfig(model=f"local-dir:{tiny_clip_dir}")
    images = batch("astronaut", "coffee")
    fp32 = load_scorer(ScoringConfig(model=cfg.model, precision="fp32"), "cuda").score(images.cuda())
    auto = load_scorer(cfg, "cuda").score(images.cuda())
    assert torch.allclose(fp32, auto, atol=2e-2)


def test_analysis_view_path_feeds_clip_what_its_own_transform_would(scorer, tiny_clip_dir, media):
    """The picker scores the 360 px view FFmpeg scaled from YUV, never a full RGB frame."""
    from streamthumb.decode import VideoReader, analysis_view, to_rgb
    from synthetic import Segment, write_video

    path = media / "view720.mp4"
    write_video(path, [Segment("astronaut", 0.2), Segment("chelsea", 0.2)], size=(1280, 720))
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{tiny_clip_dir}")
    with VideoReader(path) as reader:
        frames = [f for f, _ in reader][::5]
    views = torch.stack([analysis_view(f, 360) for f in frames])
    assert views.shape[-2:] == (360, 640)
    theirs = torch.stack([transform(Image.fromarray(to_rgb(f).permute(1, 2, 0).numpy())) for f in frames])
    with torch.inference_mode():
        e_ours = torch.nn.functional.normalize(scorer.model.encode_image(scorer.preprocess(views)), dim=-1)
        e_theirs = torch.nn.functional.normalize(scorer.model.encode_image(theirs), dim=-1)
    assert (e_ours * e_theirs).sum(dim=1).min() > 0.99
