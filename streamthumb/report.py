"""An HTML report of one run, and an index page over a library: why each frame won or lost.

``write_report`` draws a ``Result`` kept with ``keep_thumbs=True`` as one self-contained page:
every candidate as a tile (its small image inlined as a JPEG data URI, its time, shot, score,
score components and, in plain words, why it was rejected or lost), the picks highlighted and
linked to their written files, and a score-over-time chart with the shot cuts marked, drawn as
inline SVG. The page loads nothing from the network and runs no script, so it opens from a
mail attachment or a CI artefact as it is. ``write_index`` draws a library's manifest rows as
one table linking to each video's thumbnails.

The report is a subscriber at the edge (STYLE 16, 17): it reads the candidate records, and the
library code never calls it.

Example:
    >>> result = streamthumb.pick("clip.mp4", keep_thumbs=True)
    >>> result = streamthumb.write_thumbnails(result, "thumbs/clip")
    >>> write_report(result, "thumbs/clip/report.html")
    PosixPath('thumbs/clip/report.html')
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import cv2
import numpy as np

from .output import write_atomic
from .results import CandidateInfo, Pick, Result, Verdict

if TYPE_CHECKING:
    from .library import VideoRecord

__all__ = ["REASON_WORDS", "IndexEntry", "index_entries", "write_index", "write_report"]

REASON_WORDS: Mapping[str, str] = {
    "blurry": "blurry",
    "motion_blur": "motion blur",
    "soft": "softer than the best frame of its shot",
    "dark": "too dark",
    "blown_out": "blown out (too bright)",
    "low_contrast": "flat (low contrast)",
    "washed_out": "washed out",
    "noise": "noisy (static or heavy grain)",
    "graphic": "graphic (title card, slate, credits or test pattern)",
    "near_cut": "transition (too close to a cut)",
    "fade": "transition (fade)",
    "dissolve": "transition (dissolve)",
}
"""Each filter reason in plain words, for people tuning thresholds; unknown reasons show as is."""

_PICK_HEIGHT = 180
"""Pixel height of the pick cards' images; tiles use the candidate's own ~120 px thumb."""
_JPEG_QUALITY = 80
_CROP_COLOURS = (((255, 214, 0), "#ffd600"), ((0, 200, 255), "#00c8ff"), ((255, 64, 160), "#ff40a0"))
"""Outline colours of the crop windows drawn on a pick, as RGB and as CSS, one per ratio."""
_CHART_W, _CHART_H = 1000, 240
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 16, 16, 52
"""Chart margins: room for score labels on the left and time labels plus the rejected row below."""

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#59636e}.summary{margin:0 0 4px}
.picks,.tiles{display:flex;flex-wrap:wrap;gap:12px}
.pick{border:3px solid #1a7f37;background:#dafbe1;border-radius:8px;padding:8px;max-width:340px}
.pick img{height:180px;display:block;border-radius:4px}
.tile{width:220px;border:2px solid #d0d7de;border-radius:8px;padding:6px;background:#f6f8fa}
.tile img{width:100%;display:block;border-radius:4px}
.tile.picked{border:4px solid #1a7f37;background:#dafbe1}
.tile.rejected{border-color:#cf222e;background:#ffebe9}
.tile.lost{border-color:#bf8700;background:#fff8c5}
.noimg{height:120px;display:flex;align-items:center;justify-content:center;background:#d0d7de}
.head{font-weight:600;margin-top:4px}.why{margin:2px 0}
.badge{display:inline-block;padding:0 6px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.b-picked{background:#1a7f37}.b-rejected{background:#cf222e}.b-lost{background:#9a6700}
table{border-collapse:collapse;font-size:12px}td{padding:0 6px 0 0}
details{font-size:12px}svg{width:100%;max-width:1000px;height:auto;border:1px solid #d0d7de}
.idx td{padding:6px 12px 6px 0;vertical-align:middle;border-bottom:1px solid #d0d7de;font-size:14px}
.idx td.name{max-width:420px;overflow-wrap:anywhere}.idx td.pics{white-space:nowrap}
.idx img{height:72px;margin-right:4px;border-radius:3px}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body>
{body}
</body></html>
"""


def write_report(result: Result, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write ``result`` as one self-contained HTML page at ``path``; return the path.

    Tile images come from ``CandidateInfo.thumb``, so pick with ``keep_thumbs=True``; without
    them the tiles still show every number. Write the thumbnails first: picks whose ``path``
    is set link to their files, relative to the page.

    Args:
        result: A run's result, with its candidates.
        path: Where the page goes; written to a temp file, then renamed into place.
        title: The page heading; the video's file name by default.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OutputError: the page cannot be written.
    """
    target = Path(path)
    heading = title or (Path(result.video).name if result.video else "streamthumb report")
    body = "\n".join(
        [
            f"<h1>{escape(heading)}</h1>",
            _summary(result),
            f"<h2>Picks</h2>\n{_picks(result, target.parent)}",
            f"<h2>Score over time</h2>\n{_chart(result)}",
            f"<h2>Candidates ({len(result.candidates)})</h2>\n{_tiles(result)}",
        ]
    )
    return _write_page(target, heading, body)


def _write_page(target: Path, title: str, body: str) -> Path:
    write_atomic(target, _PAGE.format(title=escape(title), css=_CSS, body=body).encode("utf-8"))
    return target


def _summary(result: Result) -> str:
    s = result.stats
    rejected = ", ".join(f"{n} {_reason(r)}" for r, n in sorted(s.rejected.items())) or "none"
    lines = [
        f"{result.duration:.2f} s of video, {result.width}x{result.height} at {result.fps:.2f} fps, "
        f"{len(result.shots)} shots",
        f"{len(result.picks)} of {result.requested} picks from {s.candidates} candidates "
        f"({s.scored} scored); rejected: {rejected}",
    ]
    if result.shortfall:
        lines.append(f"Fewer picks than asked: {result.shortfall}")
    return "\n".join(f'<p class="summary muted">{escape(line)}</p>' for line in lines)


# Picks --------------------------------------------------------------------------------------


def _picks(result: Result, page_dir: Path) -> str:
    if not result.picks:
        return '<p class="muted">No picks.</p>'
    cards = "\n".join(_pick_card(p, page_dir, _tile_id(result, p.t)) for p in result.picks)
    return f'<div class="picks">\n{cards}\n</div>'


def _pick_card(pick: Pick, page_dir: Path, tile: str) -> str:
    crops = tuple(getattr(pick, "crops", ()))  # ``Pick.crops``: one window per ``--crop`` ratio
    shown = _with_crop_boxes(_shrink(pick.image, _PICK_HEIGHT), pick.image.shape[0], crops)
    image = f'<img src="{_data_uri(shown)}" alt="pick {pick.rank}">'
    if pick.path:
        image = f'<a href="{_href(pick.path, page_dir)}">{image}</a>'
    fallback = '<div class="why">fallback: nothing passed the filters</div>' if pick.fallback else ""
    return (
        f'<div class="pick" data-rank="{pick.rank}" data-t="{_num(pick.t)}">{image}'
        f'<div class="head"><span class="badge b-picked">Pick {pick.rank}</span> '
        f'<a href="#{tile}">{pick.t:.2f} s</a> · shot {pick.shot} · '
        f"score {_score(pick.score)}</div>{fallback}{_pick_files(pick, crops, page_dir)}</div>"
    )


def _pick_files(pick: Pick, crops: Sequence[Any], page_dir: Path) -> str:
    """Links to the written files: one per crop, each in its box's colour, or the whole frame."""
    links = []
    for i, crop in enumerate(crops):
        label = f"{crop.ratio} ({crop.placed_by})"
        text = f'<a href="{_href(crop.path, page_dir)}">{escape(label)}</a>' if crop.path else escape(label)
        links.append(f'<span style="color:{_CROP_COLOURS[i % len(_CROP_COLOURS)][1]}">■</span> {text}')
    if not links and pick.path:
        links.append(f'<a href="{_href(pick.path, page_dir)}">{escape(Path(pick.path).name)}</a>')
    return "".join(f"<div>{link}</div>" for link in links)


def _with_crop_boxes(small: np.ndarray, full_height: int, crops: Sequence[Any]) -> np.ndarray:
    """Outline each crop's window (source pixels) on the shrunk image."""
    if not crops:
        return small
    out = small.copy()
    scale = small.shape[0] / full_height
    for i, crop in enumerate(crops):
        x, y, w, h = (round(v * scale) for v in crop.box)
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), _CROP_COLOURS[i % len(_CROP_COLOURS)][0], 2)
    return out


# Candidate tiles ----------------------------------------------------------------------------


def _tiles(result: Result) -> str:
    if not result.candidates:
        return '<p class="muted">No candidates.</p>'
    k = result.requested or len(result.picks)
    tiles = "\n".join(_tile(i, c, k) for i, c in enumerate(result.candidates))
    return f'<div class="tiles">\n{tiles}\n</div>'


def _tile(index: int, cand: CandidateInfo, k: int) -> str:
    group = _group(cand)
    image = '<div class="noimg muted">no image</div>'
    if cand.thumb is not None:
        image = f'<img src="{_data_uri(cand.thumb)}" alt="candidate at {cand.t:.2f} s">'
    return (
        f'<div class="tile {group}" id="c{index}" data-t="{_num(cand.t)}" data-fate="{escape(cand.fate)}">'
        f"{image}"
        f'<div class="head">{cand.t:.2f} s · shot {cand.shot} · {escape(cand.origin)}</div>'
        f'<div class="why"><span class="badge b-{group}">{escape(_verdict_word(cand))}</span> '
        f"{escape(_fate_words(cand, k))}</div>"
        f"{_failures(cand.verdicts)}{_components(cand)}{_measurements(cand.signals)}</div>"
    )


def _group(cand: CandidateInfo) -> str:
    """The tile's colour: picked, rejected by a filter, or lost to the selection."""
    if cand.fate in ("picked", "rejected"):
        return cand.fate
    return "lost"


def _verdict_word(cand: CandidateInfo) -> str:
    if cand.fate == "picked":
        return f"pick {cand.rank}" if cand.rank is not None else "picked"
    return "rejected" if cand.fate == "rejected" else "lost"


def _fate_words(cand: CandidateInfo, k: int) -> str:
    """Why the candidate won or lost, in plain words."""
    detail = cand.fate_detail
    if cand.fate == "picked":
        return detail or f"score {_score(cand.score)}"
    if cand.fate == "rejected":
        return ", ".join(_reason(r) for r in cand.reasons) or detail or "rejected by a filter"
    if cand.fate == "outranked":
        return f"a better pick won: {detail}" if detail else "a better pick won"
    if cand.fate == "evicted":
        return f"dropped from the pool: {detail}" if detail else "dropped from the pool"
    if cand.fate == "below_top_k":
        return f"below the top {k}" + (f": {detail}" if detail else "")
    return detail or "undecided"


def _failures(verdicts: Sequence[Verdict]) -> str:
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return ""
    rows = "".join(
        f"<tr><td>{escape(_reason(v.reason))}</td><td>{escape(v.stage)} {_fmt(v.value)}</td>"
        f"<td>limit {_fmt(v.threshold)}</td></tr>"
        for v in failed
    )
    return f'<table class="failed">{rows}</table>'


def _components(cand: CandidateInfo) -> str:
    """The score and the signals it is made of: the scorer's ``clip``, ``q_*`` terms, ``face``."""
    names = [n for n in cand.signals if n in ("clip", "face") or n.startswith("q_")]
    if math.isnan(cand.score) and not names:
        return '<div class="muted">not scored</div>'
    rows = "".join(f"<tr><td>{escape(n)}</td><td>{_fmt(cand.signals[n])}</td></tr>" for n in names)
    return f'<table class="score"><tr><td><b>score</b></td><td><b>{_score(cand.score)}</b></td></tr>{rows}</table>'


def _measurements(signals: Mapping[str, float]) -> str:
    rest = [n for n in signals if n not in ("clip", "face") and not n.startswith("q_")]
    if not rest:
        return ""
    rows = "".join(f"<tr><td>{escape(n)}</td><td>{_fmt(signals[n])}</td></tr>" for n in rest)
    return f"<details><summary>measurements</summary><table>{rows}</table></details>"


# Chart --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axes:
    """Maps seconds and scores to chart pixels."""

    duration: float
    low: float
    high: float

    def x(self, t: float) -> float:
        return _PAD_L + (_CHART_W - _PAD_L - _PAD_R) * min(max(t / self.duration, 0.0), 1.0)

    def y(self, score: float) -> float:
        span = self.high - self.low
        return _PAD_T + (_CHART_H - _PAD_T - _PAD_B) * (self.high - score) / span

    @property
    def bottom(self) -> float:
        return float(_CHART_H - _PAD_B)


def _axes(result: Result) -> _Axes:
    times = [c.t for c in result.candidates] + [s.end for s in result.shots]
    duration = max([result.duration, *times, 1e-3])
    scores = [c.score for c in result.candidates if not math.isnan(c.score)]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    pad = (high - low) * 0.1 or 0.05  # one score, or all equal: a band around it
    return _Axes(duration, low - pad, high + pad)


def _chart(result: Result) -> str:
    axes = _axes(result)
    parts = [
        f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{_CHART_W - _PAD_L - _PAD_R}" '
        f'height="{_CHART_H - _PAD_T - _PAD_B}" fill="#f6f8fa"/>',
        _cuts(result, axes),
        _time_ticks(axes),
        _score_ticks(axes),
        _points(result, axes),
    ]
    legend = (
        '<p class="muted">Dashed lines: shot cuts. <span style="color:#1a7f37">●</span> pick (rank), '
        '<span style="color:#bf8700">●</span> scored but lost, <span style="color:#cf222e">×</span> '
        "rejected before scoring (bottom row). Click a mark to see its tile.</p>"
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {_CHART_W} {_CHART_H}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="score over time">{"".join(parts)}</svg>'
    )
    return svg + legend


def _cuts(result: Result, axes: _Axes) -> str:
    lines = []
    for shot in result.shots[1:]:
        x = axes.x(shot.start)
        lines.append(
            f'<line class="cut" x1="{x:.1f}" y1="{_PAD_T}" x2="{x:.1f}" y2="{axes.bottom:.1f}" '
            f'stroke="#57606a" stroke-dasharray="4 3"><title>cut at {shot.start:.2f} s</title></line>'
        )
    return "".join(lines)


def _time_ticks(axes: _Axes) -> str:
    step = _nice_step(axes.duration / 8)
    ticks, t = [], 0.0
    while t <= axes.duration + 1e-9:
        ticks.append(
            f'<text x="{axes.x(t):.1f}" y="{_CHART_H - 6}" font-size="11" text-anchor="middle" '
            f'fill="#59636e">{_fmt(t)} s</text>'
        )
        t += step
    return "".join(ticks)


def _score_ticks(axes: _Axes) -> str:
    out = []
    for value in (axes.low, (axes.low + axes.high) / 2, axes.high):
        y = axes.y(value)
        out.append(
            f'<text x="{_PAD_L - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#59636e">'
            f"{value:+.3f}</text>"
            f'<line x1="{_PAD_L}" y1="{y:.1f}" x2="{_CHART_W - _PAD_R}" y2="{y:.1f}" stroke="#d0d7de"/>'
        )
    return "".join(out)


def _points(result: Result, axes: _Axes) -> str:
    marks = [_mark(i, c, axes) for i, c in enumerate(result.candidates)]
    marks.sort(key=lambda m: m[0])  # picks drawn last, on top
    label = (
        f'<text x="{_PAD_L - 4}" y="{axes.bottom + 22:.1f}" font-size="11" text-anchor="end" '
        'fill="#cf222e">rejected</text>'
    )
    return label + "".join(m[1] for m in marks)


def _mark(index: int, cand: CandidateInfo, axes: _Axes) -> tuple[int, str]:
    x = axes.x(cand.t)
    tip = f"<title>{cand.t:.2f} s, shot {cand.shot}: {escape(_fate_words(cand, 0))}</title>"
    if math.isnan(cand.score):
        y = axes.bottom + 18
        shape = (
            f'<path d="M{x - 4:.1f} {y - 4:.1f}l8 8m0 -8l-8 8" stroke="#cf222e" stroke-width="2"/>'
            f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill-opacity="0"/>'
        )
        return 0, f'<a href="#c{index}">{shape}{tip}</a>'
    y = axes.y(cand.score)
    if cand.fate != "picked":
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#bf8700"/>'
        return 1, f'<a href="#c{index}">{shape}{tip}</a>'
    shape = (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#1a7f37"/>'
        f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" font-weight="bold" text-anchor="middle" '
        f'fill="#fff">{cand.rank or ""}</text>'
    )
    return 2, f'<a href="#c{index}">{shape}{tip}</a>'


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


# Library index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """One video's row on the library index page."""

    name: str
    """What the row says, usually the file name."""
    status: str
    """``done``, ``failed`` or ``pending``."""
    picks: tuple[str, ...] = ()
    """The written thumbnail files, best first."""
    report: str | None = None
    """The video's own report page, which the row's images link to when set."""
    detail: str | None = None
    """A line under the name: the error of a failed video, a warning, or the duration."""
    source: str | None = None
    """The full path of the video, shown on hover."""


def index_entries(records: Iterable[VideoRecord]) -> list[IndexEntry]:
    """One ``IndexEntry`` per manifest row, in the order given."""
    return [_entry(r) for r in records]


def _entry(rec: VideoRecord) -> IndexEntry:
    detail = rec.error
    if detail is None and rec.duration is not None:
        detail = f"{rec.duration:.1f} s of video"
        if rec.truncated:
            detail += "; truncated, the thumbnails cover only a part"
    if rec.repeats:
        shared = ", ".join(
            f"pick {r['rank']} = {Path(str(r['video'])).name} pick {r['other_rank']}" for r in rec.repeats
        )
        detail = f"{detail}; repeated in other videos: {shared}"
    paths = tuple(str(p["path"]) for p in rec.picks if p.get("path"))
    return IndexEntry(Path(rec.path).name, rec.status, paths, detail=detail, source=rec.path)


def write_index(entries: Iterable[IndexEntry], path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write a library's index page: one row per video, its picks as small images.

    The images are the thumbnail files themselves, linked relative to the page (a library's
    worth of inlined images would make one huge page), so keep the page where it can reach
    them. Each image links to the video's report when the entry has one, else to the file.

    Args:
        entries: The rows, in order; ``index_entries`` makes them from manifest records.
        path: Where the page goes; written to a temp file, then renamed into place.
        title: The page heading.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OutputError: the page cannot be written.
    """
    target = Path(path)
    heading = title or "streamthumb library"
    rows = [_index_row(e, target.parent) for e in entries]
    counts = f"{len(rows)} videos" if len(rows) != 1 else "1 video"
    table = f'<table class="idx">\n{"".join(rows)}\n</table>' if rows else '<p class="muted">No videos.</p>'
    body = f'<h1>{escape(heading)}</h1>\n<p class="summary muted">{counts}</p>\n{table}'
    return _write_page(target, heading, body)


def _index_row(entry: IndexEntry, page_dir: Path) -> str:
    group = {"done": "picked", "failed": "rejected"}.get(entry.status, "lost")
    images = "".join(_index_image(entry, p, page_dir) for p in entry.picks)
    name = escape(entry.name)
    if entry.report:
        name = f'<a href="{_href(entry.report, page_dir)}">{name}</a>'
    detail = f'<div class="muted">{escape(entry.detail)}</div>' if entry.detail else ""
    return (
        f'<tr class="video" data-status="{escape(entry.status)}" title="{escape(entry.source or entry.name)}">'
        f'<td class="name"><b>{name}</b>{detail}</td>'
        f'<td><span class="badge b-{group}">{escape(entry.status)}</span></td>'
        f'<td class="pics">{images}</td></tr>\n'
    )


def _index_image(entry: IndexEntry, image: str, page_dir: Path) -> str:
    target = _href(entry.report or image, page_dir)
    return f'<a href="{target}"><img src="{_href(image, page_dir)}" loading="lazy" alt="{escape(entry.name)}"></a>'


# Small helpers ------------------------------------------------------------------------------


def _data_uri(rgb: np.ndarray) -> str:
    """A small RGB image as a JPEG data URI."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:  # cv2 fails only on an empty image; show the tile without it
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _shrink(rgb: np.ndarray, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if h <= height:
        return rgb
    size = (max(1, round(w * height / h)), height)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _href(file: str, page_dir: Path) -> str:
    """A link from the page to ``file``: relative when possible, else a file URI."""
    target = Path(file).resolve()
    try:
        rel = os.path.relpath(target, page_dir.resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return escape(target.as_uri())
    return escape(quote(Path(rel).as_posix()))


def _tile_id(result: Result, t: float) -> str:
    """The id of the tile of the candidate at ``t``: a candidate's time is unique in a run."""
    index = next((i for i, c in enumerate(result.candidates) if c.t == t), None)
    return "" if index is None else f"c{index}"


def _reason(reason: str) -> str:
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def _score(value: float) -> str:
    return "not scored" if math.isnan(value) else f"{value:+.4f}"


def _fmt(value: float) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if math.isnan(value):
        return "–"
    return f"{value:.4g}"


def _num(value: float) -> str:
    """A time for a ``data-t`` attribute: exact enough to match, short enough to read."""
    return repr(round(value, 6))
