"""Score candidate batches with OpenCLIP: max(positive) - mean(negative) prompt similarity.

``load_scorer`` is the one call that hides the model plumbing: it resolves weights the way
open_clip does (``hf-hub:`` and ``local-dir:`` names win, otherwise ``pretrained`` is a tag,
then a file), refuses to run on random weights, and returns a scorer whose preprocessing
(resize, center crop, normalize) runs on tensors on the device and matches the model's own.

Example:
    >>> scorer = load_scorer(ScoringConfig(), device="cuda")
    >>> scores = scorer.score(batch_uint8)   # (N, 3, H, W) -> (N,)
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import os
import pickle
import socket
import threading
import urllib.parse
import urllib.request
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from open_clip.factory import parse_model_name

from .config import ScoringConfig
from .errors import ModelError, WeightsUnavailableError

__all__ = ["ClipScorer", "Scorer", "load_scorer"]

_CHECKPOINT_GLOBS = ("*.safetensors", "*.bin", "*.pth", "*.pt")


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


class ClipScorer(Scorer):
    """An OpenCLIP model with its prompts embedded once.

    Args:
        model: An open_clip model in eval mode, already on ``device``.
        tokenizer: The model's tokenizer.
        preprocess: The model's preprocess config (``open_clip.get_model_preprocess_cfg``).
        positive: Prompts a good thumbnail resembles.
        negative: Prompts a bad thumbnail resembles.
        device: The model's device.
        precision: ``auto``, ``fp32``, ``fp16`` or ``bf16``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        tokenizer: Callable[[Sequence[str]], torch.Tensor],
        preprocess: dict[str, Any],
        positive: Sequence[str],
        negative: Sequence[str],
        device: torch.device,
        precision: str = "auto",
    ):
        self.model = model.eval().requires_grad_(False)
        self.device = device
        self._preprocess = preprocess
        self._autocast_dtype = _autocast_dtype(device, precision)
        self._positive = self._embed_text(tokenizer, positive)
        self._negative = self._embed_text(tokenizer, negative) if negative else None

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._autocast_dtype)

    @torch.inference_mode()
    def _embed_text(self, tokenizer: Callable[[Sequence[str]], torch.Tensor], prompts: Sequence[str]) -> torch.Tensor:
        with self._autocast():
            emb = self.model.encode_text(tokenizer(list(prompts)).to(self.device))  # type: ignore[operator]
        return F.normalize(emb.float(), dim=-1)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Resize, crop and normalize (N, 3, H, W) uint8 images as the model's transform would."""
        return preprocess_tensor(images, self._preprocess)

    @torch.inference_mode()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings, (N, D) float32 on the device."""
        pixels = self.preprocess(images.to(self.device, non_blocking=True))
        with self._autocast():
            emb = self.model.encode_image(pixels)  # type: ignore[operator]
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
            raise ModelError(
                f"{self.device}: out of memory scoring {len(images)} frames; lower --batch-size"
            ) from exc
        except RuntimeError as exc:  # device and kernel failures, not our bugs
            raise ModelError(f"{self.device}: scoring failed: {str(exc).splitlines()[0][:200]}") from exc
        score = (emb @ self._positive.T).max(dim=1).values
        if self._negative is not None:
            score = score - (emb @ self._negative.T).mean(dim=1)
        return score.cpu(), emb.cpu()


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
    mean = torch.tensor(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN), device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", open_clip.OPENAI_DATASET_STD), device=x.device).view(1, 3, 1, 1)
    return (x.clamp_(0.0, 1.0) - mean) / std


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode not in ("bicubic", "bilinear"):
        mode = "bilinear"
    return F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)


def _autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


_PROBE_TIMEOUT_S = 3.0
"""How long the one reachability probe may take, DNS included, before the hub counts as unreachable."""

_MAX_VERIFIED_GUESSES = 6
"""How many look-alike architectures ``_guess_architecture`` builds (on the meta device) to confirm."""

_TELLING_KEYS = ("visual.conv1.weight", "visual.proj", "text_projection", "token_embedding.weight")
"""State-dict keys whose shapes name an architecture; a mismatch example prefers them."""

_LOAD_LOCK = threading.RLock()
"""Serialises loads: ``_quiet_third_party`` and ``_hub_offline`` swap process-wide logging and hub state."""

_log = logging.getLogger(__name__)
_OPEN_CLIP_DIR = os.path.dirname(open_clip.__file__)


def load_scorer(cfg: ScoringConfig, device: torch.device | str = "cpu") -> ClipScorer:
    """Build the configured OpenCLIP scorer, loading real weights or failing clearly.

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
    with _quiet_third_party():
        name, pretrained = _resolve_weights(cfg)
        offline = _check_hub(cfg, name, pretrained)
        with _hub_offline(offline):
            try:
                model = open_clip.create_model(
                    name,
                    pretrained=pretrained,
                    device=device,
                    cache_dir=cfg.cache_dir,
                    require_pretrained=True,
                )
                tokenizer = open_clip.get_tokenizer(name, cache_dir=cfg.cache_dir)
            except Exception as exc:  # open_clip, torch, safetensors and the hub raise many types
                raise _model_error(cfg, name, pretrained, exc) from exc
    return ClipScorer(
        model,
        tokenizer=tokenizer,
        preprocess=open_clip.get_model_preprocess_cfg(model),
        positive=cfg.positive,
        negative=cfg.negative,
        device=device,
        precision=cfg.precision,
    )


def _resolve_weights(cfg: ScoringConfig) -> tuple[str, str | None]:
    """Check that weights exist before building anything, so no path ends on random init."""
    schema, ident = parse_model_name(cfg.model)
    if schema == "local-dir":
        _check_local_dir(Path(ident), cfg.model)
        return cfg.model, None
    if schema == "hf-hub":
        return cfg.model, None
    model = ident.replace("/", "-")
    if model not in open_clip.list_models():
        close = difflib.get_close_matches(model, open_clip.list_models(), n=5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelError(
            f"unknown model {cfg.model!r}.{hint} Use an open_clip name (open_clip.list_models()), "
            "hf-hub:org/repo or local-dir:/path."
        )
    tags = open_clip.list_pretrained_tags_by_model(model)
    if not cfg.pretrained:
        raise WeightsUnavailableError(
            f"no weights configured for {model}: set scoring.pretrained (--pretrained) to a tag "
            f"({', '.join(tags) or 'none known'}) or a checkpoint file"
        )
    if cfg.pretrained in tags or os.path.isfile(cfg.pretrained):
        return model, cfg.pretrained
    raise WeightsUnavailableError(
        f"{cfg.pretrained!r} is neither a pretrained tag of {model} ({', '.join(tags) or 'none known'}) "
        "nor an existing checkpoint file"
    )


def _check_local_dir(path: Path, name: str) -> None:
    if not (path / "open_clip_config.json").is_file():
        raise WeightsUnavailableError(f"{name}: no open_clip_config.json in {path}")
    if not any(p for glob in _CHECKPOINT_GLOBS for p in path.glob(glob)):
        raise WeightsUnavailableError(
            f"{name}: {path} has a config but no weights (*.safetensors, *.bin, *.pth); "
            "copy the checkpoint there"
        )


# --- the hub: cache first, one short probe, never the hub's minute of retries ---


def _check_hub(cfg: ScoringConfig, name: str, pretrained: str | None) -> bool:
    """Decide before open_clip runs whether the load may use the network, and fail fast if it must.

    The hub retries an unreachable host for about 50 s per file, so the network is only used when
    a file is missing from the cache and one short connect to the hub answers.

    Returns:
        True when every hub file the load reads is cached, so it should run offline.

    Raises:
        WeightsUnavailableError: a file is missing and HF_HUB_OFFLINE is set, the hub does not
            answer the probe, or (``hf-hub:``) the download fails.
    """
    needed = _hub_files(cfg, name, pretrained)
    if needed is None:
        return False
    repo, files = needed
    if all(any(_cached_file(repo, f, cfg) for f in alternatives) for alternatives in files):
        return True
    if _offline_requested():
        raise _unavailable(cfg, "HF_HUB_OFFLINE is set")
    problem = _probe_hub()
    if problem:
        raise _unavailable(cfg, problem)
    if parse_model_name(cfg.model)[0] == "hf-hub":
        _fetch_hf(repo, cfg)
    return False


def _hub_files(cfg: ScoringConfig, name: str, pretrained: str | None) -> tuple[str, list[tuple[str, ...]]] | None:
    """The hub repo and the files (each with its alternatives) the load reads, or None for local weights."""
    from open_clip.constants import HF_CONFIG_NAME, HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    schema, ident = parse_model_name(cfg.model)
    if schema == "hf-hub":
        return ident, [(HF_CONFIG_NAME,), (HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)]
    if schema or not pretrained or pretrained not in open_clip.list_pretrained_tags_by_model(name):
        return None
    hub = open_clip.get_pretrained_cfg(name, pretrained).get("hf_hub", "")
    if not hub:
        return None
    repo, filename = os.path.split(hub)
    if not filename or filename == HF_WEIGHTS_NAME:  # open_clip tries the safetensors twin first
        return repo, [(HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)]
    stem, suffix = os.path.splitext(filename)
    return repo, [(stem + ".safetensors", filename) if suffix in (".bin", ".pth") else (filename,)]


def _cached_file(repo: str, filename: str, cfg: ScoringConfig) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=cfg.cache_dir)
    return found if isinstance(found, str) else None


def _offline_requested() -> bool:
    """HF_HUB_OFFLINE as the hub read it at import, or as the user set it since."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.upper() in ("1", "ON", "YES", "TRUE") for f in flags)


def _probe_hub(timeout: float = _PROBE_TIMEOUT_S) -> str | None:
    """One TCP connect to the hub, or to the proxy that reaches it, bounded as a whole.

    ``getaddrinfo`` has no timeout of its own, so the connect runs in a daemon thread that is
    abandoned after ``timeout``.

    Returns:
        None when the hub answered, otherwise why it counts as unreachable.
    """
    from huggingface_hub import constants

    url = urllib.parse.urlsplit(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    target = f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    outcome: list[str] = []

    def connect() -> None:
        nonlocal target
        try:
            proxies = urllib.request.getproxies()
            proxy = proxies.get(url.scheme) or proxies.get("all")
            if proxy and not urllib.request.proxy_bypass(host):
                parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                target = f"proxy {parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
            address = target.removeprefix("proxy ").rsplit(":", 1)
            socket.create_connection((address[0], int(address[1])), timeout=timeout).close()
            outcome.append("")
        except (OSError, ValueError) as exc:
            outcome.append(f"{target} is unreachable: {exc}")

    thread = threading.Thread(target=connect, name="streamthumb-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"{target} did not answer within {timeout:g} s"
    return outcome[0] or None


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """Keep the hub off the network while open_clip reads files that are all cached.

    Even for cached files the hub first asks the server for updates, and without network it
    retries before it falls back to the cache. The flag is read on every request, so setting it
    for the load only is enough; ``_LOAD_LOCK`` keeps concurrent loads from interleaving.
    """
    if not offline:
        yield
        return
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _fetch_hf(repo: str, cfg: ScoringConfig) -> None:
    from open_clip.pretrained import download_pretrained_from_hf

    try:
        download_pretrained_from_hf(repo, cache_dir=cfg.cache_dir)
    except Exception as exc:  # huggingface_hub raises many types for offline, 404, auth
        raise _unavailable(cfg, f"download failed: {type(exc).__name__}") from exc


def _unavailable(cfg: ScoringConfig, why: str) -> WeightsUnavailableError:
    schema, ident = parse_model_name(cfg.model)
    if schema == "hf-hub":
        return WeightsUnavailableError(
            f"weights for hf-hub:{ident} are not in the cache ({_cache_location(cfg)}) and cannot be "
            f"downloaded ({why}). Fix: run once with network access, or "
            f"`huggingface-cli download {ident}` on a machine that has it and copy the cache, "
            "or point --model at local-dir:/path"
        )
    return WeightsUnavailableError(
        f"weights {cfg.model}/{cfg.pretrained} are not in the cache ({_cache_location(cfg)}) and "
        f"cannot be downloaded ({why}). Fix: run once with network access (HF_HUB_OFFLINE unset), "
        "or pass --pretrained /path/to/checkpoint, or --model local-dir:/path"
    )


def _cache_location(cfg: ScoringConfig) -> str:
    if cfg.cache_dir:
        return cfg.cache_dir
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


# --- quiet: a library prints nothing ---


@contextlib.contextmanager
def _quiet_third_party() -> Iterator[None]:
    """Send what open_clip and the hub log, warn and draw during a load to our DEBUG log.

    open_clip logs on the root logger, and its ``logging.info`` calls run ``basicConfig`` when
    the root has no handler, which would leave an ``ERROR:root:`` printer behind for the whole
    process. The hub logs retries through its own stderr handler and draws tqdm bars. So, for
    the load only: a filter on the root logger diverts records from open_clip's files, a
    placeholder handler keeps ``basicConfig`` from running, the hub's logger gets a diverting
    handler instead of its own, hub progress bars are off, and displayed warnings are diverted
    (filters still apply, so ``error`` still raises). Everything is restored afterwards.
    """
    root, hub = logging.getLogger(), logging.getLogger("huggingface_hub")
    with _LOAD_LOCK, warnings.catch_warnings(record=True) as shown, _no_progress_bars():
        placeholder = None if root.handlers else logging.NullHandler()
        hub_handlers, hub_propagate = hub.handlers[:], hub.propagate
        diverter = _ToDebugLog()
        if placeholder:
            root.addHandler(placeholder)
        root.addFilter(_divert_open_clip_record)
        hub.handlers, hub.propagate = [diverter], False
        try:
            yield
        finally:
            hub.handlers, hub.propagate = hub_handlers, hub_propagate
            root.removeFilter(_divert_open_clip_record)
            if placeholder:
                root.removeHandler(placeholder)
            for w in shown:
                _log.debug("%s: %s", w.category.__name__, w.message)


class _ToDebugLog(logging.Handler):
    """Re-logs a third-party record on ``streamthumb.scoring`` at DEBUG: silent, but not lost."""

    def emit(self, record: logging.LogRecord) -> None:
        _log.debug("%s: %s", record.name, record.getMessage())


def _divert_open_clip_record(record: logging.LogRecord) -> bool:
    if not record.pathname.startswith(_OPEN_CLIP_DIR):
        return True
    _log.debug("open_clip: %s", record.getMessage())
    return False


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Turn the hub's tqdm bars off for the load and put its exact settings back after."""
    try:  # the module, not the ``tqdm`` class that ``huggingface_hub.utils`` exports under its name
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

        states = importlib.import_module("huggingface_hub.utils.tqdm").progress_bar_states
    except (ImportError, AttributeError):  # no hub, no bars
        yield
        return
    saved, was_disabled = dict(states), are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()
        states.clear()
        states.update(saved)


# --- errors: one line that says what is wrong and what to do ---


def _model_error(cfg: ScoringConfig, name: str, pretrained: str | None, exc: Exception) -> ModelError:
    """Translate a failed build into one line: a checkpoint problem, missing weights, or open_clip's own words."""
    if isinstance(exc, ModelError):
        return exc
    found = _checkpoint_file(cfg, name, pretrained)
    if found is not None:
        path, fix = found
        problem = _checkpoint_problem(path, name, fix)
        if problem:
            return ModelError(f"cannot build {cfg.model} from {path}: {problem}")
    text = _one_line(exc)
    if "download" in text.lower() or isinstance(exc, OSError):
        return _unavailable(cfg, "offline or hub unreachable")
    return ModelError(f"cannot build {cfg.model} ({cfg.pretrained}): {text}")


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _checkpoint_file(cfg: ScoringConfig, name: str, pretrained: str | None) -> tuple[Path, str] | None:
    """The checkpoint open_clip tried to read, and how a user replaces it; None if it never got one."""
    schema, ident = parse_model_name(cfg.model)
    if schema == "local-dir":
        found = _preferred_checkpoint(Path(ident))
        return (found, f"put the weights of the model in {ident}/open_clip_config.json there") if found else None
    if pretrained and os.path.isfile(pretrained) and pretrained not in open_clip.list_pretrained_tags_by_model(name):
        return Path(pretrained), "pass the model's weights file (.safetensors, .pt or .bin)"
    needed = _hub_files(cfg, name, pretrained)
    if needed is None:
        return None
    repo, files = needed
    cached = [c for f in files[-1] if (c := _cached_file(repo, f, cfg))]
    return (Path(cached[0]), "delete it from the cache so it downloads again") if cached else None


def _preferred_checkpoint(folder: Path) -> Path | None:
    """The file open_clip's ``local-dir:`` loader picks: its preferred names first, safetensors next."""
    preferred = ["open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin"]
    rank = {name: i for i, name in enumerate(preferred)}
    files = sorted(p for glob in ("*.safetensors", "*.bin", "*.pth") for p in folder.glob(glob))
    files.sort(key=lambda p: (rank.get(p.name, len(rank)), p.suffix != ".safetensors"))
    return files[0] if files else None


def _checkpoint_problem(path: Path, arch: str, fix: str) -> str | None:
    """What is wrong with ``path`` as weights for ``arch``, or None when it looks right."""
    try:
        shapes = _checkpoint_shapes(path)
    except _NotACheckpoint as exc:
        return str(exc) if "Fix:" in str(exc) else f"{exc}. Fix: {fix}"
    expected = _architecture_shapes(arch)
    if expected is None or expected == shapes:
        return None
    return _mismatch(shapes, expected, arch)


class _NotACheckpoint(Exception):
    """A file that cannot be read as a state dict; the message says what it is instead."""


def _checkpoint_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor in a checkpoint, read lazily (safetensors header, mmap for zip files).

    The format is told by content, since open_clip picks its reader by the name's suffix alone.

    Raises:
        _NotACheckpoint: the file is not a PyTorch or safetensors state dict.
    """
    with open(path, "rb") as f:
        head = f.read(9)
    kind = "torch" if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80" else None
    if len(head) == 9 and head[8:9] == b"{":
        kind = "safetensors"
    if kind is None:
        raise _NotACheckpoint(f"{path} is not a PyTorch or safetensors checkpoint{_looks_like(head)}")
    if (kind == "safetensors") != (path.suffix == ".safetensors"):
        raise _NotACheckpoint(
            f"{path} holds {kind} weights but its name ends in {path.suffix or 'nothing'!r}, so open_clip reads "
            f"it with the wrong loader. Fix: rename it to end in {'.safetensors' if kind == 'safetensors' else '.pt'}"
        )
    if kind == "safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), "pt") as st:
                return {k: tuple(st.get_slice(k).get_shape()) for k in st.keys()}
        except Exception as exc:  # SafetensorError is not importable under one stable name
            raise _NotACheckpoint(f"{path} is a damaged safetensors file ({_one_line(exc, 120)})") from exc
    return _torch_shapes(path, zipped=head[:2] == b"PK")


def _torch_shapes(path: Path, *, zipped: bool) -> dict[str, tuple[int, ...]]:
    try:  # mmap reads only what it touches, but works for the zip format alone
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as exc:
        raise _NotACheckpoint(
            f"{path} pickles Python objects, not a plain state dict. Fix: re-save it with "
            "torch.save(model.state_dict(), path)"
        ) from exc
    except Exception as exc:  # zip and storage errors of a damaged file
        raise _NotACheckpoint(f"{path} is a damaged PyTorch checkpoint ({_one_line(exc, 120)})") from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise _NotACheckpoint(f"{path} is a PyTorch file but not a state dict of tensors")
    return {k.removeprefix("module."): tuple(v.shape) for k, v in obj.items()}


def _looks_like(head: bytes) -> str:
    if not head:
        return " (it is empty)"
    if head[4:8] == b"ftyp" or head[:4] in (b"\x1aE\xdf\xa3", b"RIFF"):
        return " (it is a video)"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return " (it is text)"
    return ""


def _architecture_shapes(arch: str) -> dict[str, tuple[int, ...]] | None:
    """Every parameter shape of an open_clip architecture, built on the meta device (no memory, ~0.1 s)."""
    try:
        with torch.device("meta"):
            model = open_clip.create_model(arch, device="meta", load_weights=False)
    except Exception:  # some towers (timm, HF) cannot be built on meta; then we cannot compare
        return None
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _mismatch(shapes: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]], arch: str) -> str:
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    misshaped = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    if misshaped:
        key = min(misshaped, key=lambda k: _TELLING_KEYS.index(k) if k in _TELLING_KEYS else len(_TELLING_KEYS))
        example = f"{key} is {list(shapes[key])} in the file but {list(expected[key])} in {arch}"
    elif missing:
        example = f"{missing[0]} is missing"
    else:
        example = f"{unexpected[0]} is not part of {arch}"
    counts = f"{len(missing)} keys missing, {len(unexpected)} unexpected, {len(misshaped)} mis-shaped"
    return f"the checkpoint does not fit the {arch} architecture ({counts}; e.g. {example}){_guess(shapes, arch)}"


def _guess(shapes: dict[str, tuple[int, ...]], arch: str) -> str:
    fits = [m for m in _guess_architecture(shapes) if m != arch]
    if fits:
        return f"; it fits {' or '.join(fits)}. Fix: pass --model {fits[0]}, or a checkpoint made for {arch}"
    return (
        f"; no built-in open_clip model fits it{_describe(shapes)}. Fix: pass the --model it was trained as, "
        "or --model local-dir:/path with its open_clip_config.json"
    )


def _vit_signature(shapes: dict[str, tuple[int, ...]]) -> dict[str, int] | None:
    """Embed dim, width, patch size and depth of a ViT image tower, read from its state dict."""
    conv, proj = shapes.get("visual.conv1.weight"), shapes.get("visual.proj")
    if conv is None or proj is None or len(conv) != 4 or len(proj) != 2:
        return None
    blocks = {k.split(".")[3] for k in shapes if k.startswith("visual.transformer.resblocks.")}
    return {"embed dim": proj[1], "width": conv[0], "patch": conv[-1], "layers": len(blocks)}


def _describe(shapes: dict[str, tuple[int, ...]]) -> str:
    sig = _vit_signature(shapes)
    return f" (a ViT with {', '.join(f'{k} {v}' for k, v in sig.items())})" if sig else ""


def _guess_architecture(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Built-in models whose every shape matches the checkpoint: prefilter by ViT signature, then confirm."""
    sig = _vit_signature(shapes)
    if sig is None:
        return []
    fits, built = [], 0
    for name in open_clip.list_models():
        cfg = open_clip.get_model_config(name) or {}
        vision = cfg.get("vision_cfg", {})
        if (cfg.get("embed_dim"), vision.get("width"), vision.get("patch_size"), vision.get("layers")) != tuple(
            sig.values()
        ):
            continue
        built += 1
        if _architecture_shapes(name) == shapes:
            fits.append(name)
        if len(fits) == 3 or built == _MAX_VERIFIED_GUESSES:
            break
    return fits
