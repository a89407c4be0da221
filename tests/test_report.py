"""The HTML report and the library index: parsed, and rendered in headless Chromium.

The browser tests need Debian's ``chromium`` package (``.ci/run`` installs it) and skip with
the reason when it is missing; the parsing tests always run.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest

import streamthumb
from streamthumb.cli import main
from streamthumb.report import IndexEntry, write_index, write_report
from streamthumb.scoring import ModelFreeScorer
from synthetic import Segment, write_video

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs headless Chromium (apt-get install -y chromium; .ci/run installs it)"
)
BROWSER_TIMEOUT_S = 120
"""A hung browser fails the test instead of hanging the suite."""
PICKED_BG = (218, 251, 225)
"""#dafbe1, the background of a picked tile, as RGB."""
REJECTED_BG = (255, 235, 233)
"""#ffebe9, the background of a rejected tile, as RGB."""
CLI_MODEL = ["--model", "none", "--device", "cpu"]


# -- reading a page back ---------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


class Page(HTMLParser):
    """Every element with its attributes and the text inside it (nested text included)."""

    VOID = {"img", "meta", "br", "hr", "input", "link", "rect", "circle", "path", "line"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(el)
        if tag not in self.VOID:
            self._open.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for el in self._open:
            el.text.append(data)

    def having(self, cls: str) -> list[Element]:
        return [e for e in self.elements if cls in e.classes]

    def tags(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def linked_file(page_path: Path, href: str) -> Path:
    return (page_path.parent / unquote(href)).resolve()


# -- fixtures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    path: Path
    result: streamthumb.Result


@pytest.fixture(scope="module")
def report(standard_video, tmp_path_factory) -> Report:
    """The standard video picked with the model-free scorer, thumbnails written, then the report."""
    root = tmp_path_factory.mktemp("report")
    result = streamthumb.pick(standard_video[0], streamthumb.Config(), 3, scorer=ModelFreeScorer(), keep_thumbs=True)
    result = streamthumb.write_thumbnails(result, root / "thumbs" / "standard")
    (root / "pages").mkdir()
    return Report(write_report(result, root / "pages" / "report.html"), result)


# -- the page, parsed --------------------------------------------------------------------------


def test_one_tile_per_candidate_with_its_time_and_fate(report):
    tiles = read_page(report.path).having("tile")
    candidates = report.result.candidates
    assert len(tiles) == report.result.stats.candidates == len(candidates) > 0
    assert [float(t.attrs["data-t"]) for t in tiles] == pytest.approx([c.t for c in candidates], abs=1e-6)
    assert [t.attrs["data-fate"] for t in tiles] == [c.fate for c in candidates]
    assert all(t.tag == "div" for t in tiles)


def test_picks_are_highlighted_and_link_their_files(report):
    page = read_page(report.path)
    picks = report.result.picks
    picked = {round(float(t.attrs["data-t"]), 3): t for t in page.having("tile") if "picked" in t.classes}
    assert len(picked) == len(picks) > 0
    for pick in picks:
        assert f"pick {pick.rank}" in picked[round(pick.t, 3)].words
    cards = page.having("pick")
    assert [int(c.attrs["data-rank"]) for c in cards] == [p.rank for p in picks]
    hrefs = {linked_file(report.path, a.attrs["href"]) for a in page.tags("a") if not a.attrs["href"].startswith("#")}
    assert {Path(p.path).resolve() for p in picks} <= hrefs  # relative to the page, and they exist
    assert all(h.is_file() for h in hrefs)


def test_rejected_and_lost_candidates_say_why_in_plain_words(report):
    tiles = read_page(report.path).having("tile")
    by_t = {round(float(t.attrs["data-t"]), 3): t for t in tiles}
    rejected = [c for c in report.result.candidates if c.fate == "rejected"]
    assert rejected, "the standard video has a blurred and a black shot"
    words = {"blurry": "blurry", "dark": "too dark", "graphic": "graphic", "low_contrast": "low contrast"}
    for cand in rejected:
        text = by_t[round(cand.t, 3)].words
        assert "rejected" in text and "not scored" in text
        for reason in cand.reasons:
            assert words.get(reason, reason.replace("_", " ")) in text, (reason, text)
    black = [c for c in rejected if 7.0 <= c.t < 8.0]
    assert black and "too dark" in by_t[round(black[0].t, 3)].words
    for cand in report.result.candidates:
        if cand.fate in ("outranked", "evicted", "below_top_k"):
            text = by_t[round(cand.t, 3)].words
            assert "lost" in text and (cand.fate_detail or "") in text


def test_scores_and_components_are_shown(report):
    tiles = read_page(report.path).having("tile")
    for tile, cand in zip(tiles, report.result.candidates, strict=True):
        if cand.fate != "rejected":
            assert f"{cand.score:+.4f}" in tile.words
            assert all(name in tile.words for name in cand.signals if name.startswith("q_"))


def test_page_is_self_contained(report):
    text = report.path.read_text(encoding="utf-8")
    page = Page(text)
    assert not page.tags("script") and not page.tags("link") and "@import" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    images = page.tags("img")
    assert len(images) == len(report.result.candidates) + len(report.result.picks)
    for img in images:
        prefix, _, data = img.attrs["src"].partition(",")
        assert prefix == "data:image/jpeg;base64"
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape[0] >= 100


def test_chart_marks_every_cut_and_every_candidate(report):
    page = read_page(report.path)
    svg = page.tags("svg")
    assert len(svg) == 1
    assert len(page.having("cut")) == len(report.result.shots) - 1
    marks = [a for a in page.tags("a") if a.attrs.get("href", "").startswith("#c")]
    chart_marks = {a.attrs["href"] for a in marks}
    assert chart_marks == {f"#c{i}" for i in range(len(report.result.candidates))}


def test_text_is_escaped_and_thumbless_results_still_report(standard_video, tmp_path):
    result = streamthumb.pick(standard_video[0], streamthumb.Config(), 2, scorer=ModelFreeScorer())
    path = write_report(result, tmp_path / "r.html", title='<script>alert("x")</script> & co')
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp; co" in text
    page = Page(text)
    assert len(page.having("tile")) == result.stats.candidates
    assert len(page.having("noimg")) == result.stats.candidates  # no thumbs kept, every number still there
    assert not list(tmp_path.glob(".*.tmp"))  # written to a temp file, then renamed


def test_write_index_rows_link_pictures_and_reports(tmp_path):
    image = tmp_path / "thumbs" / "a b" / "01_00001.000s.jpg"
    image.parent.mkdir(parents=True)
    cv2.imwrite(str(image), np.full((90, 160, 3), 128, np.uint8))
    entries = [
        IndexEntry("a b.mp4", "done", (str(image),), report=str(image.parent / "report.html")),
        IndexEntry("<bad>.mp4", "failed", detail="not a video: <moov> missing"),
    ]
    (tmp_path / "site").mkdir()
    path = write_index(entries, tmp_path / "site" / "index.html")
    page = read_page(path)
    rows = page.having("video")
    assert [r.attrs["data-status"] for r in rows] == ["done", "failed"]
    assert "<bad>.mp4" in rows[1].words and "not a video: <moov> missing" in rows[1].words
    (img,) = page.tags("img")
    assert linked_file(path, img.attrs["src"]) == image.resolve()
    assert any(linked_file(path, a.attrs["href"]).name == "report.html" for a in page.tags("a"))


# -- the command line --------------------------------------------------------------------------


def test_cli_pick_report(standard_video, tmp_path, capsys):
    page_path = tmp_path / "pages" / "clip.html"
    argv = ["pick", str(standard_video[0]), *CLI_MODEL, "--out", str(tmp_path / "t"), "-k", "2", "--json"]
    code = main([*argv, "--report", str(page_path)])
    out, err = capsys.readouterr()
    assert code == 0 and f"report: {page_path}" in err
    page = read_page(page_path)
    assert len(page.having("tile")) == json.loads(out)["stats"]["candidates"] > 0
    assert len(page.tags("img")) == len(page.having("tile")) + 2  # keep_thumbs was implied
    cards = page.having("pick")
    assert len(cards) == 2
    files = [linked_file(page_path, a.attrs["href"]) for a in page.tags("a") if not a.attrs["href"].startswith("#")]
    assert files and all(f.is_file() and f.parent == (tmp_path / "t" / "standard").resolve() for f in files)


def test_cli_pick_report_with_no_write(standard_video, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the default --out would go
    page_path = tmp_path / "r.html"
    code = main(["pick", str(standard_video[0]), *CLI_MODEL, "--no-write", "--json", "-q", "--report", str(page_path)])
    out, _ = capsys.readouterr()
    assert code == 0 and not (tmp_path / "thumbs").exists()
    doc = json.loads(out)
    page = read_page(page_path)
    assert len(page.having("tile")) == doc["stats"]["candidates"]
    assert len(page.having("pick")) == len(doc["picks"]) and all(p["path"] is None for p in doc["picks"])
    assert all(a.attrs["href"].startswith("#") for a in page.tags("a"))  # nothing written, nothing linked


def test_cli_batch_report_indexes_the_manifest(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "one.mp4", [Segment("astronaut", 1.5), Segment("coffee", 1.5)])
    write_video(videos / "two.mp4", [Segment("chelsea", 1.5), Segment("rocket", 1.5)])
    (videos / "broken.mp4").write_bytes(b"not a video")
    index = tmp_path / "index.html"
    argv = ["batch", str(videos), "--out", str(tmp_path / "thumbs"), *CLI_MODEL, "-k", "2", "--report", str(index)]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 1 and f"index: {index}" in err  # the broken file fails the run, the index is still written
    page = read_page(index)
    rows = {r.words.split()[0]: r for r in page.having("video")}
    assert set(rows) == {"one.mp4", "two.mp4", "broken.mp4"}
    assert rows["broken.mp4"].attrs["data-status"] == "failed"
    for name in ("one.mp4", "two.mp4"):
        assert rows[name].attrs["data-status"] == "done"
    images = [linked_file(index, img.attrs["src"]) for img in page.tags("img")]
    assert len(images) == 4 and all(i.is_file() and i.parent.parent == (tmp_path / "thumbs").resolve() for i in images)


# -- rendered in a real browser --------------------------------------------------------------


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def colour_share(image: np.ndarray, rgb: tuple[int, int, int]) -> float:
    """Share of pixels within 3 levels of ``rgb`` in an RGB image."""
    return float(np.all(np.abs(image.astype(np.int16) - rgb) <= 3, axis=2).mean())


@needs_chromium
def test_report_renders_in_chromium(report, tmp_path):
    shot = tmp_path / "out.png"
    chromium(report.path, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    image = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (2000, 1280)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    assert float(rgb.std()) > 20  # not a blank page
    assert colour_share(rgb, PICKED_BG) > 0.02  # picked tiles and pick cards are drawn
    assert colour_share(rgb, REJECTED_BG) > 0.02  # so are the rejected tiles
    assert colour_share(rgb, (255, 255, 255)) > 0.2  # and the page around them


@needs_chromium
def test_rendered_dom_has_one_tile_per_candidate(report, tmp_path):
    dom = chromium(report.path, tmp_path, "--dump-dom").stdout
    page = Page(dom)
    tiles = page.having("tile")
    assert len(tiles) == report.result.stats.candidates
    assert [float(t.attrs["data-t"]) for t in tiles] == pytest.approx([c.t for c in report.result.candidates])
    assert len(page.tags("svg")) == 1


@needs_chromium
def test_index_renders_in_chromium(tmp_path):
    thumbs = tmp_path / "thumbs"
    thumbs.mkdir()
    files = []
    for i, colour in enumerate([(0, 0, 255), (0, 255, 0)]):
        files.append(thumbs / f"{i:02d}.jpg")
        cv2.imwrite(str(files[-1]), np.full((90, 160, 3), colour, np.uint8))
    index = write_index([IndexEntry("v.mp4", "done", tuple(str(f) for f in files))], tmp_path / "index.html")
    shot = tmp_path / "index.png"
    chromium(index, tmp_path, f"--screenshot={shot}", "--window-size=800,400")
    rgb = cv2.cvtColor(cv2.imread(str(shot), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert colour_share(rgb, (255, 0, 0)) > 0.01 and colour_share(rgb, (0, 255, 0)) > 0.01  # the linked images load
