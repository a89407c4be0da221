"""Start a CPU pick without open_clip: the image tower, traced once, and the prompts' embeddings.

A cold ``streamthumb pick`` on a CPU spends most of its wait before the first score, on work
that gives the same answer every run with the same weights: importing open_clip (2.3 s on two
cores; torchvision and timm come with it), building the model (0.7 s for ViT-B-32), embedding
the prompts (0.6 s) and hashing the checkpoint for provenance (1 s per 600 MB). After a normal
load this module saves the image tower as TorchScript, the prompts' embeddings, the preprocess
config and the checkpoint's SHA-256; the next cold load reads them with torch alone (0.1 s).

The tower's weights are kept apart from its TorchScript code, in the same file, and mapped
into memory rather than read: ``torch.jit.load`` of a whole ViT-B-32 tower copies 350 MB and
holds the GIL for all of it (0.85 s here), so the decoder and the face search, which start
beside the load, stood still. The code (200 KB) loads in 0.06 s and the mapped weights in
0.02 s, and the pages are read as the first batch touches them, outside the GIL.

An entry is keyed by the configured model (``scoring.model`` and ``scoring.pretrained``, paths
made absolute). It is trusted only while the files it was built from (the checkpoint, a
``local-dir:`` folder and its config, the hub's revision pointer) keep their size, mtime, inode
and ctime, as stamped *before* the load that built it, and torch, open_clip and streamthumb keep
their versions; otherwise, or when any part fails to load, the scorer is built the normal way,
from the real weights (never random ones), and the entry is rewritten. Each prompts file names
the manifest it was embedded beside (a random ``entry_id``), so embeddings made by other
weights are never read. Only fp32 CPU scorers use it: on a GPU the load is a small part of a
bulk run, and a trace does not carry autocast. Each file is written to a temporary name and
renamed, the image tower before the manifest that vouches for it, so a reader never trusts a
half-written entry.

TorchScript, though torch has deprecated it, because ``torch.export.load`` imports the compiler
stack (3 s here), the very cost this avoids; ``torch.jit.load`` is torch's one loader that does
not. When torch drops it, loads fall back to open_clip with nothing but speed lost.

Example:
    >>> scorer = load_cached_scorer(ScoringConfig(), torch.device("cpu"))  # fills the cache
    >>> scorer = load_cached_scorer(ScoringConfig(), torch.device("cpu"))  # reads it back
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

import torch

from .config import ScoringConfig
from .scoring import ClipScorer, Prompts, Scorer, _autocast_dtype, load_scorer

__all__ = ["cache_root", "load_cached_scorer"]

FORMAT = 3
"""Bumped whenever what an entry holds changes, so old entries are rebuilt, never misread."""

_log = logging.getLogger("streamthumb.scoring")
"""The load's logger: what the cache does is DEBUG detail of loading the model."""

Stamp = list[int]
"""[size, mtime_ns, inode, ctime_ns] of a file or folder; ctime cannot be set back by a copy."""
Witness = list[Any]
"""[path, Stamp]: one file an entry was built from, as the manifest's JSON keeps it."""


def cache_root() -> Path:
    """Where entries live: ``$STREAMTHUMB_CACHE_DIR``, else ``$XDG_CACHE_HOME/streamthumb``,
    else ``~/.cache/streamthumb``; entries go in its ``encoders`` folder."""
    base = os.environ.get("STREAMTHUMB_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "streamthumb")
    return Path(base) / "encoders"


def load_cached_scorer(cfg: ScoringConfig, device: torch.device | str, *, root: Path | None = None) -> Scorer:
    """``load_scorer``, reading the cache entry where one applies and is current.

    A miss loads the normal way and saves the entry on a thread of its own (not a daemon, so the
    process finishes writing before it exits).

    Args:
        cfg: The scoring section of the configuration.
        device: Where the model runs; only a CPU reads or writes the cache.
        root: The cache folder; ``cache_root()`` when None.

    Returns:
        The scorer: from the entry (``model`` is None) or from open_clip.

    Raises:
        The errors of ``load_scorer``.
    """
    device = torch.device(device)
    if cfg.model == "none" or device.type != "cpu" or _autocast_dtype(device, cfg.precision) is not None:
        return load_scorer(cfg, device)
    entry = _Entry(root or cache_root(), cfg)
    cached = entry.read(device)
    if cached is not None:
        return cached
    sources = _sources(cfg)  # stamped before the load: a file replaced during it is not vouched for
    scorer = load_scorer(cfg, device)
    if isinstance(scorer, ClipScorer) and sources:
        try:
            # daemon=False said outright: a thread inherits the daemon flag of its starter, here
            # the BackgroundScorer's daemon thread, and a daemon is killed mid-write at exit.
            writer = threading.Thread(target=entry.write, args=(scorer, sources), name=WRITER, daemon=False)
            writer.start()
        except RuntimeError as exc:  # no thread to spare: the pick goes on, uncached
            _log.debug("encoder cache not written: %s", exc)
    return scorer


WRITER = "streamthumb-encoder-cache"
"""The writer threads' name, for a caller (or a test) that must wait for the entry."""


class _Entry:
    """One model's folder: ``manifest.json``, ``image.pt`` and one ``prompts-<hash>.pt`` per prompt set."""

    def __init__(self, root: Path, cfg: ScoringConfig):
        self.cfg = cfg
        self.folder = root / _digest(json.dumps(_model_key(cfg)))[:24]
        self.prompts_file = self.folder / f"prompts-{_digest(json.dumps([cfg.positive, cfg.negative]))[:16]}.pt"
        self.current_id: str | None = None
        """The ``entry_id`` of the manifest ``read`` found current with its image tower present:
        the writer then adds only the prompts, and only beside that same manifest."""

    # -- reading: torch alone ------------------------------------------------------------

    def read(self, device: torch.device) -> ClipScorer | None:
        """The scorer from the entry, or None when it is missing, stale or unreadable."""
        try:
            manifest = self._current_manifest()
            if manifest is None or not (self.folder / "image.pt").is_file():
                return None
            self.current_id = manifest["entry_id"]
            prompts = self._read_prompts(device, manifest["entry_id"])
            if prompts is None:
                return None
            encoder = _joined(torch.load(self.folder / "image.pt", mmap=True, weights_only=True), device)
            sha: str = manifest["weights_sha256"]
            return ClipScorer(
                encoder,
                prompts=prompts,
                preprocess=manifest["preprocess"],
                device=device,
                precision=self.cfg.precision,
                identity={
                    "model": self.cfg.model,
                    "pretrained": self.cfg.pretrained,
                    "weights_file": manifest["weights_file"],
                },
                digest=lambda: sha,
            )
        except Exception as exc:  # torch.load and jit.load raise many types; a bad entry costs speed, never the pick
            _log.debug("encoder cache %s unreadable, loading open_clip: %s", self.folder, exc)
            self.current_id = None  # rebuilt whole by the writer
            return None

    def _current_manifest(self) -> dict[str, Any] | None:
        """The manifest, if its versions are ours and the files it was built from are unchanged."""
        path = self.folder / "manifest.json"
        if not path.is_file():
            return None
        manifest: dict[str, Any] = json.loads(path.read_text())
        if manifest.get("format") != FORMAT or manifest.get("versions") != _versions():
            return None
        witnesses = manifest["witnesses"]
        if not witnesses or any(_stamp(Path(p)) != stamp for p, stamp in witnesses):
            return None
        return manifest

    def _read_prompts(self, device: torch.device, entry_id: str) -> Prompts | None:
        """The configured prompts' embeddings made beside this manifest; None when there are none."""
        if not self.prompts_file.is_file():
            return None
        saved = torch.load(self.prompts_file, map_location=device, weights_only=True)
        if saved["entry_id"] != entry_id:
            return None  # embedded by the text tower of other weights: the writer replaces it
        if tuple(saved["positive"]) != tuple(self.cfg.positive) or tuple(saved["negative"]) != tuple(self.cfg.negative):
            raise ValueError("prompts differ from the configured ones")  # a hash collision, or an edit by hand
        return Prompts(tuple(self.cfg.positive), tuple(self.cfg.negative), saved["positive_emb"], saved["negative_emb"])

    # -- writing: after a normal load, open_clip imported ------------------------------------

    def write(self, scorer: ClipScorer, sources: list[Witness]) -> None:
        """Save what ``read`` needs for a scorer built while ``sources`` had these stamps;
        leaves the entry as it was when anything fails."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)  # first: an unwritable cache fails before the trace
            _sweep_temporaries(self.folder)
            entry_id = self._vouching_id(sources) or self._write_image(scorer, sources)
            if entry_id is not None:
                self._write_prompts(scorer.prompts, entry_id)
        except Exception as exc:  # a cache that cannot be written costs speed, never the pick
            _log.debug("encoder cache %s not written: %s", self.folder, exc)

    def _vouching_id(self, sources: list[Witness]) -> str | None:
        """The ``entry_id`` of the manifest ``read`` found, if it still stands and was built from
        the very files this scorer was loaded from; then only the prompts need writing."""
        manifest = self._current_manifest() if self.current_id else None
        if manifest is None or manifest["entry_id"] != self.current_id or manifest["witnesses"] != sources:
            return None
        return self.current_id

    def _write_image(self, scorer: ClipScorer, sources: list[Witness]) -> str | None:
        """Trace and save the tower, then the manifest; its ``entry_id``, or None when nothing was written."""
        from . import _weights

        model, provenance = scorer.model, scorer.provenance()
        sha = provenance["weights_sha256"]
        if model is None or sha is None or not _weights.encodes_with_visual(model):
            return None  # no model (a cached scorer), no digest to vouch with, or a CoCa-like model
        traced = _trace(model.visual, scorer.preprocess_cfg)  # type: ignore[arg-type]
        if traced is None or any(_stamp(Path(p)) != stamp for p, stamp in sources):
            return None  # a tower the trace does not reproduce, or weights replaced since the load
        # The old entry's prompts were embedded by the old weights: it goes first, whole.
        (self.folder / "manifest.json").unlink(missing_ok=True)
        with _replacing(self.folder / "image.pt") as tmp:
            torch.save(_split(traced), tmp)
        entry_id = uuid.uuid4().hex
        manifest = {
            "format": FORMAT,
            "entry_id": entry_id,
            "versions": _versions(),
            "witnesses": sources,
            "weights_file": Path(sources[0][0]).name,
            "weights_sha256": sha,
            "preprocess": provenance["preprocess"],  # JSON-ready: tuples made lists
        }
        with _replacing(self.folder / "manifest.json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))
        return entry_id

    def _write_prompts(self, prompts: Prompts, entry_id: str) -> None:
        saved = {
            "entry_id": entry_id,
            "positive": list(prompts.positive),
            "negative": list(prompts.negative),
            "positive_emb": prompts.positive_emb.cpu(),
            "negative_emb": None if prompts.negative_emb is None else prompts.negative_emb.cpu(),
        }
        with _replacing(self.prompts_file) as tmp:
            torch.save(saved, tmp)


def _sources(cfg: ScoringConfig) -> list[Witness]:
    """The files the configured model is built from, stamped now; the checkpoint first; empty
    when the checkpoint cannot be told (nothing is cached then)."""
    from . import _weights

    weights = _weights.weights_file(cfg)
    files = _weights.source_files(cfg, weights) if weights is not None else []
    if not files or weights is None or files[0] != weights.absolute():
        return []  # the checkpoint itself is gone (a dangling link): nothing to vouch with
    return [[str(p), _stamp(p)] for p in files]


def _trace(visual: torch.nn.Module, preprocess: dict[str, Any]) -> torch.jit.ScriptModule | None:
    """The image tower traced on a batch of 2, if it then matches the eager tower on a batch of 3."""
    from . import _weights

    size = preprocess.get("size", 224)
    height, width = (size, size) if isinstance(size, int) else size
    generator = torch.Generator().manual_seed(0)
    example, check = (torch.randn(n, 3, height, width, generator=generator) for n in (2, 3))
    with torch.no_grad():
        with _weights.quiet_third_party():  # the tracer's warnings about open_clip's code
            traced = torch.jit.trace(visual, example, check_trace=False)
        same = torch.allclose(traced(check), visual(check), rtol=1e-4, atol=1e-5)
    return traced if same else None


def _split(traced: torch.jit.ScriptModule) -> dict[str, Any]:
    """The tower as ``{"code": TorchScript without its weights, "weights": state dict}``, one
    file for ``torch.save``, so code and weights are replaced together. Empties the traced
    module's slots only: the tensors stay the eager tower's, which goes on scoring."""
    weights = {name: tensor.detach() for name, tensor in traced.state_dict().items()}
    for name, tensor in weights.items():
        _put(traced, name, torch.empty(0, dtype=tensor.dtype))
    return {"code": traced.save_to_buffer(), "weights": weights}


def _joined(saved: dict[str, Any], device: torch.device) -> torch.jit.ScriptModule:
    """The tower ``_split`` saved, its weights put back in their slots."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        tower = torch.jit.load(io.BytesIO(saved["code"]), map_location=device)
    slots = set(tower.state_dict())
    if slots != set(saved["weights"]):
        raise ValueError("the saved weights do not fill the tower's slots")
    for name, tensor in saved["weights"].items():
        _put(tower, name, tensor.to(device))
    return tower


def _put(module: torch.jit.ScriptModule, name: str, tensor: torch.Tensor) -> None:
    """Set the parameter or buffer at the dotted ``name`` of a TorchScript module."""
    *path, leaf = name.split(".")
    for part in path:
        module = getattr(module, part)
    module._c.setattr(leaf, tensor)


class _replacing:
    """A temporary file beside ``path``, renamed over it when the block succeeds, removed when not."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _sweep_temporaries(folder: Path) -> None:
    """Remove temporary files left by writers that were killed (their process is gone)."""
    for tmp in folder.glob(".*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-3])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError):
            continue  # not ours, or another user's live process


def _model_key(cfg: ScoringConfig) -> list[str | None]:
    """What names the weights: the model and pretrained settings, paths made absolute."""
    model = cfg.model
    if model.startswith("local-dir:"):
        model = "local-dir:" + os.path.abspath(model.removeprefix("local-dir:"))
    pretrained = cfg.pretrained
    if pretrained and os.path.isfile(pretrained):
        pretrained = os.path.abspath(pretrained)
    return [model, pretrained, os.path.abspath(cfg.cache_dir) if cfg.cache_dir else None]


def _stamp(path: Path) -> Stamp:
    """The path's stamp; [-1, -1, -1, -1] when it is gone, which matches no saved stamp."""
    try:
        st = path.stat()
    except OSError:
        return [-1, -1, -1, -1]
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "none"

    return {
        "torch": torch.__version__,
        "open_clip_torch": version("open_clip_torch"),
        "streamthumb": version("streamthumb"),
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
