"""Find, fetch and diagnose the scorer's weights, quietly; the plumbing behind ``load_scorer``.

``scoring.load_scorer`` makes one call here, ``load_model``, and gets back an open_clip model
built from real weights, or one of our exceptions with a one-line message. Everything that makes
that call safe and quiet lives in this module, in four parts:

* resolve: check that the configured weights exist before anything is built, so no path ends on
  open_clip's random init (``hf-hub:`` and ``local-dir:`` names win, then a tag, then a file);
* hub: use the network only when a file is missing from the cache and one short probe of the hub
  answers, instead of waiting through the hub's minute of retries;
* quiet: divert what open_clip and the hub log, warn and draw to our DEBUG log for the load;
* diagnose: when the build fails, say what the checkpoint is and which architecture it fits.

Example:
    >>> model, tokenizer = load_model(ScoringConfig(), torch.device("cpu"))
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import logging
import os
import pickle
import socket
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import open_clip
import torch
from open_clip.factory import parse_model_name

from .config import ScoringConfig
from .errors import ModelError, StreamthumbError, WeightsUnavailableError

_CHECKPOINT_GLOBS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
"""What counts as weights in a ``local-dir:`` folder when checking it before the build."""

_PROBE_TIMEOUT_S = 3.0
"""How long the one reachability probe may take, DNS included, before the hub counts as unreachable."""

_MAX_VERIFIED_GUESSES = 6
"""How many look-alike architectures ``_guess_architecture`` builds (on the meta device) to confirm."""

_TELLING_KEYS = ("visual.conv1.weight", "visual.proj", "text_projection", "token_embedding.weight")
"""State-dict keys whose shapes name an architecture; a mismatch example prefers them."""

_LOAD_LOCK = threading.RLock()
"""Serialises loads: ``quiet_third_party`` and ``_hub_offline`` swap process-wide logging and hub state."""

_log = logging.getLogger("streamthumb.scoring")
"""Where the load's diverted chatter goes: ``load_scorer`` documents this logger, so the move here kept its name."""

_OPEN_CLIP_DIR = os.path.dirname(open_clip.__file__)
"""Records logged from files under here are open_clip's, whichever logger they used."""


def load_model(
    cfg: ScoringConfig, device: torch.device
) -> tuple[torch.nn.Module, Callable[[Sequence[str]], torch.Tensor]]:
    """Build the configured open_clip model and its tokenizer from real weights, printing nothing.

    Args:
        cfg: The scoring section of the configuration.
        device: Where the model is built.

    Returns:
        The model, on ``device``, and its tokenizer.

    Raises:
        WeightsUnavailableError: the weights are not cached and cannot be fetched, or none
            were configured.
        ModelError: the model name is unknown or the checkpoint does not fit the model.
    """
    with quiet_third_party():
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
    return model, tokenizer


def weights_file(cfg: ScoringConfig) -> Path | None:
    """The checkpoint file the configured weights load from (in a ``local-dir:`` folder, a
    given file, or the hub cache), for provenance; None when it cannot be told."""
    try:
        name, pretrained = _resolve_weights(cfg)
        found = _checkpoint_file(cfg, name, pretrained)
    except (StreamthumbError, OSError):
        return None
    return found[0] if found else None


def source_files(cfg: ScoringConfig, weights: Path) -> list[Path]:
    """The files a model built from ``cfg`` depends on, for ``_encoder_cache`` to watch: the
    checkpoint (first), a ``local-dir:`` folder and its config, and the hub's pointer to the
    revision in use and that revision's folder."""
    files = [weights]
    schema, ident = parse_model_name(cfg.model)
    if schema == "local-dir":
        # The folder too: a checkpoint added beside the old one may be the one open_clip prefers.
        files += [Path(ident) / "open_clip_config.json", Path(ident)]
    if weights.parent.parent.name == "snapshots":  # the hub cache: <repo>/snapshots/<commit>/<file>
        files += [weights.parent.parent.parent / "refs" / "main", weights.parent]
    return [f.absolute() for f in files if f.exists()]


def encodes_with_visual(model: torch.nn.Module) -> bool:
    """Whether the model's image features are its image tower's output (CLIP and CustomTextCLIP,
    not CoCa), so the tower alone can stand in for ``encode_image``."""
    from open_clip.model import CLIP, CustomTextCLIP

    encode = getattr(type(model), "encode_image", None)
    return encode in (CLIP.encode_image, CustomTextCLIP.encode_image) and hasattr(model, "visual")


class FileDigest:
    """A file's SHA-256, computed on a background thread so a large checkpoint's hash (about a
    second per 600 MB) overlaps decoding instead of adding to the run.

    Args:
        path: The file.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self._path = path
        self._digest: str | None = None
        self._thread = threading.Thread(target=self._run, name="streamthumb-weights-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        digest = hashlib.sha256()
        try:
            with open(self._path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):  # hashlib releases the GIL per chunk
                    digest.update(chunk)
        except OSError:
            return  # unreadable now: the result says null rather than failing the run
        self._digest = digest.hexdigest()

    def hexdigest(self) -> str | None:
        """The hex digest, waiting for it if need be; None if the file could not be read."""
        self._thread.join()
        return self._digest


# --- resolve: weights must exist before anything is built ---


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
    """Refuse a ``local-dir:`` folder open_clip would build with random weights or not at all."""
    if not (path / "open_clip_config.json").is_file():
        raise WeightsUnavailableError(f"{name}: no open_clip_config.json in {path}")
    if not any(p for glob in _CHECKPOINT_GLOBS for p in path.glob(glob)):
        raise WeightsUnavailableError(
            f"{name}: {path} has a config but no weights (*.safetensors, *.bin, *.pth); copy the checkpoint there"
        )


# --- hub: cache first, one short probe, never the hub's minute of retries ---


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
    if all(_cached_file(repo, alternatives, cfg) for alternatives in files):
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


def _cached_file(repo: str, alternatives: tuple[str, ...], cfg: ScoringConfig) -> str | None:
    """The cached copy of the first of a hub file's alternatives, found without the network; None if none is."""
    from huggingface_hub import try_to_load_from_cache

    for filename in alternatives:
        found = try_to_load_from_cache(repo, filename, cache_dir=cfg.cache_dir)
        if isinstance(found, str) and found:
            return found
    return None


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
    host, port = url.hostname or "huggingface.co", _port(url)
    target = f"{host}:{port}"
    outcome: list[str] = []

    def connect() -> None:
        nonlocal target
        try:
            address = (host, port)
            proxy = _proxy_for(url.scheme, host)
            if proxy:
                address = (str(proxy.hostname), _port(proxy))
                target = f"proxy {address[0]}:{address[1]}"
            socket.create_connection(address, timeout=timeout).close()
            outcome.append("")
        except (OSError, ValueError) as exc:
            outcome.append(f"{target} is unreachable: {exc}")

    thread = threading.Thread(target=connect, name="streamthumb-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"{target} did not answer within {timeout:g} s"
    return outcome[0] or None


def _port(url: urllib.parse.SplitResult) -> int:
    """The URL's port, or its scheme's default, so the probe connects where a request would.

    Raises:
        ValueError: the port is not a number in range.
    """
    return url.port or (443 if url.scheme == "https" else 80)


def _proxy_for(scheme: str, host: str) -> urllib.parse.SplitResult | None:
    """The proxy the environment names for ``host``, so the probe takes the route a request would."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")


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
    """Download an ``hf-hub:`` model ourselves, so a failure becomes one weights error, not open_clip's."""
    from open_clip.pretrained import download_pretrained_from_hf

    try:
        download_pretrained_from_hf(repo, cache_dir=cfg.cache_dir)
    except Exception as exc:  # huggingface_hub raises many types for offline, 404, auth
        raise _unavailable(cfg, f"download failed: {type(exc).__name__}") from exc


def _unavailable(cfg: ScoringConfig, why: str) -> WeightsUnavailableError:
    """The missing-weights error: the model, the cache it is not in, why it cannot be fetched, and the fix."""
    schema, ident = parse_model_name(cfg.model)
    if schema == "hf-hub":
        return WeightsUnavailableError(
            f"weights for hf-hub:{ident} are not in the cache ({_cache_location(cfg)}) and cannot be "
            f"downloaded ({why}). Fix: run once with network access, or "
            f"`huggingface-cli download {ident}` on a machine that has it and copy the cache, "
            "or point --model at local-dir:/path, or rank without CLIP: --model none"
        )
    return WeightsUnavailableError(
        f"weights {cfg.model}/{cfg.pretrained} are not in the cache ({_cache_location(cfg)}) and "
        f"cannot be downloaded ({why}). Fix: run once with network access (HF_HUB_OFFLINE unset), "
        "or pass --pretrained /path/to/checkpoint, or --model local-dir:/path, or rank without CLIP: --model none"
    )


def _cache_location(cfg: ScoringConfig) -> str:
    """The cache folder a message names, so the user knows where the weights were looked for."""
    if cfg.cache_dir:
        return cfg.cache_dir
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


# --- quiet: a library prints nothing ---


@contextlib.contextmanager
def quiet_third_party() -> Iterator[None]:
    """Send what open_clip and the hub log, warn and draw during a load to our DEBUG log.

    A library prints nothing, and the load is where open_clip and the hub would. Everything is
    restored afterwards; ``_LOAD_LOCK`` keeps concurrent loads from swapping the same state.
    """
    with _LOAD_LOCK, _warnings_to_debug_log(), _no_progress_bars(), _logs_to_debug_log():
        yield


@contextlib.contextmanager
def _warnings_to_debug_log() -> Iterator[None]:
    """Divert displayed warnings to our DEBUG log; filters still apply, so ``error`` still raises."""
    with warnings.catch_warnings(record=True) as shown:
        try:
            yield
        finally:
            for w in shown:
                _log.debug("%s: %s", w.category.__name__, w.message)


@contextlib.contextmanager
def _logs_to_debug_log() -> Iterator[None]:
    """Divert open_clip's root-logger records and the hub's logger to our DEBUG log.

    open_clip logs on the root logger, and its ``logging.info`` calls run ``basicConfig`` when
    the root has no handler, which would leave an ``ERROR:root:`` printer behind for the whole
    process. The hub logs retries through its own stderr handler. So a filter on the root logger
    diverts records from open_clip's files, a placeholder handler keeps ``basicConfig`` from
    running, and the hub's logger gets a diverting handler instead of its own.
    """
    root, hub = logging.getLogger(), logging.getLogger("huggingface_hub")
    placeholder = None if root.handlers else logging.NullHandler()
    hub_handlers, hub_propagate = hub.handlers[:], hub.propagate
    if placeholder:
        root.addHandler(placeholder)
    root.addFilter(_divert_open_clip_record)
    hub.handlers, hub.propagate = [_ToDebugLog()], False
    try:
        yield
    finally:
        hub.handlers, hub.propagate = hub_handlers, hub_propagate
        root.removeFilter(_divert_open_clip_record)
        if placeholder:
            root.removeHandler(placeholder)


class _ToDebugLog(logging.Handler):
    """Re-logs a third-party record on ``streamthumb.scoring`` at DEBUG: silent, but not lost."""

    def emit(self, record: logging.LogRecord) -> None:
        _log.debug("%s: %s", record.name, record.getMessage())


def _divert_open_clip_record(record: logging.LogRecord) -> bool:
    """Root-logger filter: re-log open_clip's records at DEBUG and drop them; pass all others."""
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


# --- diagnose: one line that says what is wrong and what to do ---


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
    """An exception's text on one bounded line, since our messages are one line each."""
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
    cached = _cached_file(repo, files[-1], cfg)
    return (Path(cached), "delete it from the cache so it downloads again") if cached else None


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
        return _safetensors_shapes(path)
    return _torch_shapes(path, zipped=head[:2] == b"PK")


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Shapes from the safetensors header alone; no tensor is read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as st:
            return {k: tuple(st.get_slice(k).get_shape()) for k in st.keys()}
    except Exception as exc:  # SafetensorError is not importable under one stable name
        raise _NotACheckpoint(f"{path} is a damaged safetensors file ({_one_line(exc, 120)})") from exc


def _torch_shapes(path: Path, *, zipped: bool) -> dict[str, tuple[int, ...]]:
    """Shapes of a ``torch.save`` state dict, loaded safely (``weights_only``) and, if zipped, mapped."""
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
    """What a file that is no checkpoint seems to be, from its first bytes, so the user spots the mix-up."""
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
    """How a checkpoint misses ``arch``: counts, one telling example, and which model it fits instead."""
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
    """The fix for a mismatch: the built-in model the checkpoint fits, or a description when none does."""
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
    """A ViT checkpoint's signature in words, so a user can recognise what it was trained as."""
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
