"""Score candidate batches with OpenCLIP: max(positive) - mean(negative) prompt similarity.

``load_scorer`` is the one call that hides the model plumbing: it resolves weights the way
open_clip does (``hf-hub:`` and ``local-dir:`` names win, otherwise ``pretrained`` is a tag,
then a file), refuses to run on random weights, and returns a scorer whose preprocessing
(resize, center crop, normalize) runs on tensors on the device and matches the model's own.
Finding, fetching and diagnosing the weights, quietly, is ``_weights``'s job.

Example:
    >>> scorer = load_scorer(ScoringConfig(), device="cuda")
    >>> scores = scorer.score(batch_uint8)   # (N, 3, H, W) -> (N,)
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .config import ScoringConfig
from .errors import ModelError

__all__ = [
    "BackgroundScorer",
    "ClipScorer",
    "ModelFreeScorer",
    "Prompts",
    "Scorer",
    "embed_prompts",
    "load_scorer",
    "scorer_from_model",
]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
"""open_clip's defaults (``OPENAI_DATASET_MEAN``/``STD``) for a preprocess config without its own,
kept here so preprocessing never imports open_clip."""


class Scorer(ABC):
    """Scores a batch of upright RGB frames; higher is a better thumbnail."""

    device: torch.device
    """Where ``score`` wants its input."""

    @abstractmethod
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Map (N, 3, H, W) uint8 images on ``device`` to (N,) float32 scores on the CPU."""

    def score_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores, and (N, D) unit-norm embeddings on the CPU when the scorer has them.

        Diversity on content needs the embeddings the scorer computed anyway; a scorer without
        them keeps this default.
        """
        return self.score(images), None

    def provenance(self) -> dict[str, Any]:
        """What a result needs to say to reproduce this scorer's scores: which model and
        weights, how frames were prepared. Scorers that know more override it."""
        return {"scorer": type(self).__name__}

    @property
    def ready(self) -> bool:
        """False while a score would wait for the model to load (``BackgroundScorer``)."""
        return True


@dataclass(frozen=True, eq=False)
class Prompts:
    """The prompts and their unit-norm text embeddings, computed once per model.

    Args:
        positive: Prompts a good thumbnail resembles.
        negative: Prompts a bad thumbnail resembles.
        positive_emb: (P, D) float32 embeddings of ``positive``, on the scorer's device.
        negative_emb: (Q, D) embeddings of ``negative``; None when there are none.
    """

    positive: tuple[str, ...]
    negative: tuple[str, ...]
    positive_emb: torch.Tensor = field(repr=False)
    negative_emb: torch.Tensor | None = field(repr=False)


class ClipScorer(Scorer):
    """An OpenCLIP image encoder scored against prompts embedded once.

    Args:
        encode_image: Preprocessed (N, 3, S, S) pixels to (N, D) image features: the open_clip
            model's ``encode_image``, or its image tower read back from ``_encoder_cache``.
        prompts: The prompts' text embeddings (``embed_prompts``).
        preprocess: The model's preprocess config (``open_clip.get_model_preprocess_cfg``).
        device: The model's device.
        precision: ``auto``, ``fp32``, ``fp16`` or ``bf16``.
        identity: Where the weights came from (``model``, ``pretrained``, ``weights_file``),
            for ``provenance``.
        digest: Returns the checkpoint's SHA-256 (may wait for it; None when unknown).
        model: The whole open_clip model, when it was built (None from the cache).
    """

    def __init__(
        self,
        encode_image: Callable[[torch.Tensor], torch.Tensor],
        *,
        prompts: Prompts,
        preprocess: dict[str, Any],
        device: torch.device,
        precision: str = "auto",
        identity: Mapping[str, Any] | None = None,
        digest: Callable[[], str | None] | None = None,
        model: torch.nn.Module | None = None,
    ):
        self.model = model
        self.device = device
        self.prompts = prompts
        self._encode_image = encode_image
        self._preprocess = preprocess
        self._identity = dict(identity or {})
        self._digest = digest
        self._autocast_dtype = _autocast_dtype(device, precision)

    def provenance(self) -> dict[str, Any]:
        """Model, weights file and its SHA-256, preprocessing, precision and prompts."""
        return {
            "scorer": "open_clip",
            **self._identity,
            "weights_sha256": self._digest() if self._digest is not None else None,
            "preprocess": {k: list(v) if isinstance(v, tuple) else v for k, v in self._preprocess.items()},
            "precision": str(self._autocast_dtype).removeprefix("torch.") if self._autocast_dtype else "fp32",
            "prompts": {"positive": list(self.prompts.positive), "negative": list(self.prompts.negative)},
        }

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        """The model's preprocess config, as given."""
        return dict(self._preprocess)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Reduced precision where ``precision`` asks for it; a no-op context for fp32."""
        return _autocast(self.device, self._autocast_dtype)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Resize, crop and normalize (N, 3, H, W) uint8 images as the model's transform would."""
        return preprocess_tensor(images, self._preprocess)

    @torch.inference_mode()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings, (N, D) float32 on the device."""
        pixels = self.preprocess(images.to(self.device, non_blocking=True))
        with self._autocast():
            emb = self._encode_image(pixels)
        return F.normalize(emb.float(), dim=-1)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Raises ``ModelError`` when the device fails, e.g. runs out of memory."""
        return self.score_and_embed(images)[0]

    @torch.inference_mode()
    def score_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raises ``ModelError`` when the device fails, e.g. runs out of memory."""
        try:
            emb = self.embed(images)
        except torch.OutOfMemoryError as exc:
            raise ModelError(f"{self.device}: out of memory scoring {len(images)} frames; lower --batch-size") from exc
        except RuntimeError as exc:  # device and kernel failures, not our bugs
            lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            # TorchScript (a cached tower) puts the cause last, under its own preamble.
            cause = lines[-1] if isinstance(exc, torch.jit.Error) else lines[0]
            raise ModelError(f"{self.device}: scoring failed: {cause.strip()[:200]}") from exc
        score = (emb @ self.prompts.positive_emb.T).max(dim=1).values
        if self.prompts.negative_emb is not None:
            score = score - (emb @ self.prompts.negative_emb.T).mean(dim=1)
        return score.cpu(), emb.cpu()


@torch.inference_mode()
def embed_prompts(
    model: torch.nn.Module,
    tokenizer: Callable[[Sequence[str]], torch.Tensor],
    cfg: ScoringConfig,
    device: torch.device,
) -> Prompts:
    """Embed the configured prompts with an open_clip model's text tower, once per load."""

    def embed(texts: Sequence[str]) -> torch.Tensor:
        with _autocast(device, _autocast_dtype(device, cfg.precision)):
            emb = model.encode_text(tokenizer(list(texts)).to(device))  # type: ignore[operator]
        return F.normalize(emb.float(), dim=-1)

    negative = embed(cfg.negative) if cfg.negative else None
    return Prompts(tuple(cfg.positive), tuple(cfg.negative), embed(cfg.positive), negative)


def preprocess_tensor(images: torch.Tensor, cfg: dict[str, Any]) -> torch.Tensor:
    """open_clip's inference transform, done on tensors so it runs batched on the GPU."""
    size = cfg.get("size", 224)
    out_h, out_w = (size, size) if isinstance(size, int) else tuple(size)
    mode = cfg.get("interpolation", "bicubic")
    x = images.float().div_(255.0)
    height, width = x.shape[-2:]
    resize_mode = cfg.get("resize_mode", "shortest")
    if resize_mode == "squash":
        x = _resize(x, (out_h, out_w), mode)
    elif resize_mode == "longest":
        scale = min(out_h / height, out_w / width)
        x = _resize(x, (round(height * scale), round(width * scale)), mode)
        pad_h, pad_w = out_h - x.shape[-2], out_w - x.shape[-1]
        fill = float(cfg.get("fill_color", 0)) / 255.0
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), value=fill)
    else:  # "shortest", torchvision's Resize(int) then CenterCrop
        short = min(out_h, out_w)
        scale = short / min(height, width)
        new = (short, int(short * width / height)) if height <= width else (int(short * height / width), short)
        x = _resize(x, new if scale != 1 else (height, width), mode)
        top = int(round((x.shape[-2] - out_h) / 2.0))
        left = int(round((x.shape[-1] - out_w) / 2.0))
        x = x[..., top : top + out_h, left : left + out_w]
    mean = torch.tensor(cfg.get("mean", OPENAI_MEAN), device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", OPENAI_STD), device=x.device).view(1, 3, 1, 1)
    return (x.clamp_(0.0, 1.0) - mean) / std


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Antialiased resize, as PIL's is, so our pixels match the model's own transform; a no-op at size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode not in ("bicubic", "bilinear"):
        mode = "bilinear"
    return F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``dtype`` on ``device``; a no-op context for None (fp32)."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision``; ``auto`` is bf16 on CUDA where supported, fp32 elsewhere."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


class ModelFreeScorer(Scorer):
    """No model: every frame scores 0, so the structural quality terms alone rank them.

    For CPU-only bulk runs and machines without weights (``--model none``). It still gives an
    embedding, a normalised 4x4x4 colour histogram of the view, so diversity on content works.

    Args:
        device: Where the histograms are computed.
    """

    BINS = 4
    """Levels per channel of the colour histogram: 64 numbers tell scenes apart cheaply."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return torch.zeros(images.shape[0])

    def provenance(self) -> dict[str, Any]:
        return {"scorer": "none", "embedding": f"colour histogram, {self.BINS}x{self.BINS}x{self.BINS} bins"}

    @torch.inference_mode()
    def score_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, bins = images.shape[0], self.BINS
        q = images.to(self.device).long() * bins // 256  # (N, 3, H, W) levels 0..bins-1
        index = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
        index = index.flatten(1) + bins**3 * torch.arange(n, device=index.device)[:, None]
        hist = torch.bincount(index.flatten(), minlength=n * bins**3).view(n, bins**3).float()
        return self.score(images), F.normalize(hist.sqrt(), dim=-1).cpu()  # sqrt: Hellinger, so cosine compares shapes


def load_scorer(cfg: ScoringConfig, device: torch.device | str = "cpu") -> Scorer:
    """Build the configured OpenCLIP scorer, loading real weights or failing clearly.

    ``scoring.model: none`` gives the ``ModelFreeScorer`` instead, and loads nothing.

    Prints nothing: what open_clip and the hub log, warn or draw during the load goes to the
    ``streamthumb.scoring`` logger at DEBUG. Weights that are cached load without touching the
    network; weights that are not fail within a few seconds when the hub is unreachable, instead
    of waiting through the hub's retries.

    Args:
        cfg: The scoring section of the configuration.
        device: Where the model runs.

    Returns:
        The scorer, with its prompts embedded.

    Raises:
        WeightsUnavailableError: the weights are not cached and cannot be fetched, or none
            were configured; the message names the model, the cache and the fix.
        ModelError: the model name is unknown or the checkpoint does not fit the model.
    """
    device = torch.device(device)
    if cfg.model == "none":
        return ModelFreeScorer(device)
    from . import _weights

    model, tokenizer = _weights.load_model(cfg, device)
    weights = _weights.weights_file(cfg)
    # The file's name, not its path (which differs between machines); its SHA-256 identifies it.
    identity = {"model": cfg.model, "pretrained": cfg.pretrained, "weights_file": weights.name if weights else None}
    digest = _weights.FileDigest(weights).hexdigest if weights else None
    return scorer_from_model(model, tokenizer, cfg, device, identity=identity, digest=digest)


def scorer_from_model(
    model: torch.nn.Module,
    tokenizer: Callable[[Sequence[str]], torch.Tensor],
    cfg: ScoringConfig,
    device: torch.device,
    *,
    identity: Mapping[str, Any] | None = None,
    digest: Callable[[], str | None] | None = None,
) -> ClipScorer:
    """An OpenCLIP model already built as a scorer: in eval mode without gradients, with the
    config's prompts embedded and the model's own preprocessing.

    ``load_scorer`` builds the model from the config first; the benchmark builds its own
    (random weights of a real architecture) and comes in here.
    """
    # Imported here, not at the top: open_clip (and torchvision under it) costs 1.5 s to import,
    # which a BackgroundScorer spends beside the decoder and --model none never spends.
    import open_clip

    model.eval().requires_grad_(False)
    return ClipScorer(
        model.encode_image,  # type: ignore[arg-type]
        prompts=embed_prompts(model, tokenizer, cfg, device),
        preprocess=open_clip.get_model_preprocess_cfg(model),
        device=device,
        precision=cfg.precision,
        identity=identity,
        digest=digest,
        model=model,
    )


class BackgroundScorer(Scorer):
    """The configured scorer, loaded on a thread of its own while the caller starts decoding.

    A cold ``pick`` spends seconds importing open_clip, building the model and embedding the
    prompts, and needs none of it until the first candidates are decoded and filtered: the two
    overlap. Every method waits for the load and re-raises its error (``ModelError``,
    ``WeightsUnavailableError``), so a broken model still fails the pick, at its first score.

    Args:
        cfg: The scoring section of the configuration.
        device: Where the model runs.
        load: What loads it: ``load_scorer`` (looked up when the load starts) when None, or
            ``_encoder_cache.load_cached_scorer``.
    """

    def __init__(
        self,
        cfg: ScoringConfig,
        device: torch.device | str = "cpu",
        load: Callable[[ScoringConfig, torch.device], Scorer] | None = None,
    ):
        self.device = torch.device(device)
        self.load_s = 0.0
        """Seconds the load took, once it is over."""
        self._future: Future[Scorer] = Future()
        threading.Thread(target=self._load, args=(cfg, load), name="streamthumb-model-load", daemon=True).start()

    def _load(self, cfg: ScoringConfig, load: Callable[[ScoringConfig, torch.device], Scorer] | None) -> None:
        start = time.perf_counter()
        try:
            self._future.set_result((load or load_scorer)(cfg, self.device))
        except BaseException as exc:  # re-raised by every method
            self._future.set_exception(exc)
        finally:
            self.load_s = time.perf_counter() - start

    @property
    def loaded(self) -> Scorer:
        """The scorer, once loaded; raises the load's error."""
        return self._future.result()

    @property
    def ready(self) -> bool:
        return self._future.done()

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return self.loaded.score(images)

    def score_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.loaded.score_and_embed(images)

    def provenance(self) -> dict[str, Any]:
        return self.loaded.provenance()
