from pathlib import Path

import pytest

from streamthumb import Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_default_yaml_mirrors_code_defaults():
    assert Config.from_yaml(ROOT / "streamthumb" / "configs" / "default.yaml") == Config()


def test_every_shipped_preset_loads_by_name_and_path():
    from streamthumb.config import preset_names

    assert preset_names() == ["default", "fast", "quality"]
    for name in preset_names():
        assert Config.from_yaml(name) == Config.from_yaml(ROOT / "streamthumb" / "configs" / f"{name}.yaml")
    assert Config.from_yaml("fast").decode.sampling == "keyframes"


def test_bad_yaml_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("select:\n  k: [1\n")
    with pytest.raises(ConfigError) as err:
        Config.from_yaml(path)
    assert "\n" not in str(err.value) and "line" in str(err.value)


def test_partial_yaml_keeps_other_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("select:\n  k: 5\nshots:\n  detector: adaptive\n")
    cfg = Config.from_yaml(path)
    assert cfg.select.k == 5 and cfg.shots.detector == "adaptive"
    assert cfg.scoring == Config().scoring


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("select:\n  kk: 5\n", r"unknown key 'select.kk'.*expected one of k, min_gap"),
        ("selct:\n  k: 5\n", r"unknown key 'selct'"),
        ("select:\n  k: 0\n", r"select.k must be >= 1"),
        ("select:\n  k: three\n", r"select.k must be an integer"),
        ("select:\n  k: true\n", r"select.k must be an integer"),
        ("shots:\n  detector: histogram\n", r"shots.detector must be one of 'content', 'adaptive'"),
        ("output:\n  crop: wide\n", r"output.crop must look like 16:9"),
        ("filters:\n  exposure:\n    min_brightness: 250\n", r"min_brightness/max_brightness"),
        ("- a\n- b\n", r"must hold a mapping"),
        ("select: [1, 2]\n", r"select must be a mapping"),
        ("faces:\n  enabled: maybe\n", r"faces.enabled must be true or false"),
    ],
)
def test_bad_yaml_is_rejected_by_name(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        Config.from_yaml(path)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("select: {k: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Config.from_yaml(bad)


def test_overrides_replace_and_validate():
    cfg = Config().with_overrides({"select.k": 7, "scoring.negative": ["a dark frame"], "output.crop": "9:16"})
    assert cfg.select.k == 7
    assert cfg.scoring.negative == ("a dark frame",)
    assert cfg.output.crop_ratios == ((9, 16),)
    assert Config().select.k == 3  # the original is untouched (frozen)
    with pytest.raises(ConfigError, match="unknown key 'select.kay'"):
        Config().with_overrides({"select.kay": 1})
    with pytest.raises(ConfigError, match="unknown key 'nosuch.k'"):
        Config().with_overrides({"nosuch.k": 1})
    with pytest.raises(ConfigError, match="runtime.batch_size must be >= 1"):
        Config().with_overrides({"runtime.batch_size": 0})


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().select.k = 4  # type: ignore[misc]
