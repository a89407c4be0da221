"""Recorded picks: the regression baseline the refactored pipeline must keep.

``python tests/record_picks.py`` rewrites ``tests/data/recorded_picks.json`` from the current
code; ``test_recorded_picks.py`` replays the same cases and compares. The recording was made
at the commit before the seams refactor; the replay runs with ``LEGACY`` settings, which turn
off what came later, so the old pipeline's behaviour stays reproducible. Re-record only when a
change is meant to change those picks, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import STANDARD, BrightnessScorer, ConstantScorer  # noqa: E402
from streamthumb import Config, pick  # noqa: E402
from synthetic import Segment, write_video  # noqa: E402

CASES = {
    "standard": STANDARD,
    "long-shots": [Segment("coffee", 7.0), Segment("astronaut", 6.0), Segment("rocket", 5.0, "blur")],
    "many-cuts": [Segment(p, 1.2) for p in ("camera", "coffee", "chelsea", "rocket", "brick", "astronaut") * 2],
}
SCORERS = {"constant": ConstantScorer, "brightness": BrightnessScorer}
OUT = Path(__file__).parent / "data" / "recorded_picks.json"
LEGACY = {
    "runtime.device": "cpu",
    "filters.enabled": ["sharpness", "exposure"],
    "candidates.per_pick": 0,
    "candidates.trim_borders": False,
    "select.fill": False,
    "select.diversity": 0.0,
    "faces.profile": False,
    **{f"quality.{term}": 0.0 for term in ("sharpness", "crispness", "exposure", "contrast", "colour", "centre")},
}
"""What turns off every later addition (new filters, quality terms, dense sampling, filling
the picks): with it, picks must equal those recorded before the seams refactor."""


def run_case(video: Path, scorer: str, k: int) -> list[dict]:
    torch.manual_seed(0)
    cfg = Config().with_overrides(LEGACY)
    result = pick(video, cfg, k=k, scorer=SCORERS[scorer]())
    return [
        {"t": round(p.t, 3), "shot": p.shot, "score": round(p.score, 4), "fallback": p.fallback} for p in result.picks
    ]


def make_videos(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, segments in CASES.items():
        paths[name] = folder / f"{name}.mp4"
        write_video(paths[name], segments)
    return paths


def record() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_videos(Path(tmp))
        return {f"{v}/{s}/k{k}": run_case(videos[v], s, k) for v in CASES for s in SCORERS for k in (1, 3, 5)}


if __name__ == "__main__":
    OUT.write_text(json.dumps(record(), indent=1) + "\n")
    print(f"wrote {OUT}")
