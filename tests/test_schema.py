"""The result is a contract: real outputs validate against the shipped JSON Schema, every result
says what made it (provenance), and the same input and config give the same result."""

import hashlib
import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from streamthumb import Config, cli, pick
from streamthumb.batch import run_batch
from streamthumb.identity import config_hash
from streamthumb.library import Manifest
from streamthumb.scoring import ModelFreeScorer
from synthetic import Segment, write_video

SCHEMA = json.loads(files("streamthumb").joinpath("schemas/result.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_is_a_valid_schema_and_the_cli_prints_it(capsys):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def cli_json(capsys, *argv: str) -> dict:
    assert cli.main(["pick", *argv, "--json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--explain",),
        ("--crop", "16:9,9:16", "--explain"),
        ("--no-write", "--sampling", "keyframes"),
    ],
)
def test_real_outputs_follow_the_schema(capsys, tiny_clip_dir, standard_video, tmp_path, extra):
    model = ("--model", f"local-dir:{tiny_clip_dir}", "--device", "cpu", "--set", "select.diversity=0")
    doc = cli_json(capsys, str(standard_video[0]), *model, "--out", str(tmp_path), *extra)
    VALIDATOR.validate(doc)
    assert doc["schema_version"] == 1 and ("candidates" in doc) == ("--explain" in extra)


def test_model_free_and_fallback_outputs_follow_the_schema(capsys, media, tmp_path):
    blurry = media / "schema-blurry.mp4"
    write_video(blurry, [Segment("astronaut", 2.0, "blur"), Segment("coffee", 2.0, "blur")], size=(160, 120))
    doc = cli_json(capsys, str(blurry), "--model", "none", "--device", "cpu", "--out", str(tmp_path), "--explain")
    VALIDATOR.validate(doc)
    assert doc["picks"] and all(p["fallback"] for p in doc["picks"])
    assert doc["provenance"]["scorer"]["scorer"] == "none"


def test_a_video_without_a_cut_gives_strict_json(capsys, media, tmp_path):
    """No cut means no distance to one: null, never the Infinity that strict parsers reject."""
    one_shot = media / "schema-one-shot.mp4"
    write_video(one_shot, [Segment("coffee", 3.0)], size=(160, 120))
    assert (
        cli.main(["pick", str(one_shot), "--model", "none", "--out", str(tmp_path), "--json", "-q", "--explain"]) == 0
    )
    doc = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    VALIDATOR.validate(doc)
    assert doc["picks"][0]["components"]["cut_gap"] is None


def test_a_broken_document_fails_validation():
    doc = {"schema_version": 1, "video": "a.mp4", "picks": [{"rank": 0}]}
    assert not VALIDATOR.is_valid(doc)


def test_provenance_names_the_weights_by_hash_and_the_config_by_the_manifest_hash(
    tiny_config, tiny_clip_dir, standard_video
):
    result = pick(standard_video[0], tiny_config)
    block = result.to_dict()["provenance"]
    scorer = block["scorer"]
    (checkpoint,) = [p for p in Path(tiny_clip_dir).iterdir() if p.suffix in (".safetensors", ".bin", ".pth")]
    assert scorer["model"] == f"local-dir:{tiny_clip_dir}" and scorer["weights_file"] == checkpoint.name
    assert scorer["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert scorer["prompts"]["positive"] == list(tiny_config.scoring.positive)
    assert scorer["preprocess"]["size"] and scorer["precision"] == "fp32"
    assert block["config_hash"] == config_hash(tiny_config)  # what the batch manifest keeps
    assert block["config"]["filters"]["sharpness"]["min_sharpness"] == tiny_config.filters.sharpness.min_sharpness
    assert "runtime" not in block["config"]  # device and batch sizes never change a pick


def test_two_runs_give_identical_results(tiny_config, standard_video):
    first, second = (pick(standard_video[0], tiny_config).to_dict(explain=True) for _ in range(2))
    for doc in (first, second):
        doc["stats"].pop("timings")
        doc["stats"].pop("peak_frames_held")  # depends on how the two threads interleave
    assert first == second


def test_batch_picks_do_not_depend_on_the_number_of_workers(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i, names in enumerate(
        [("astronaut", "coffee"), ("rocket", "chelsea"), ("camera", "brick"), ("coffee", "rocket")]
    ):
        write_video(lib / f"v{i}.mp4", [Segment(n, 1.5) for n in names], size=(160, 120), fps=12, seed=i)
    config = Config().with_overrides({"scoring.model": "none", "runtime.device": "cpu", "select.k": 2})
    rows = {}
    for workers in (1, 3):
        out = tmp_path / f"out{workers}"
        run_batch([str(lib)], out, config, workers=workers, scorer=ModelFreeScorer())
        with Manifest(out / "streamthumb.db") as m:
            rows[workers] = {
                Path(r.path).name: [(p["t"], p["score"], p["components"]) for p in r.picks] for r in m.records()
            }
    assert rows[1] == rows[3] and len(rows[1]) == 4
