import inspect
import subprocess
import sys

import streamthumb


def test_all_lists_exactly_the_public_names():
    public = {
        name
        for name in dir(streamthumb)
        if not name.startswith("_") and not inspect.ismodule(getattr(streamthumb, name))
    }
    public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    assert set(streamthumb.__all__) - {"__version__"} == public
    for name in streamthumb.__all__:
        assert getattr(streamthumb, name) is not None


def test_every_public_callable_is_typed_and_documented():
    for name in streamthumb.__all__:
        obj = getattr(streamthumb, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, name
            assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name


def test_pick_options_are_keyword_only():
    params = inspect.signature(streamthumb.pick).parameters
    assert params["scorer"].kind is inspect.Parameter.KEYWORD_ONLY
    for name in ("engine", "on_event", "cancel"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY


def test_import_and_cli_parsing_load_no_torch():
    """``--help`` and usage errors must answer before torch and open_clip are imported."""
    code = (
        "import sys, streamthumb, streamthumb.cli as c\n"
        "p = c._parser(); p.parse_args(['pick', 'x.mp4'])\n"
        "heavy = sorted(m for m in ('torch', 'open_clip', 'torchvision', 'cv2', 'av', 'kornia') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_attribute_is_an_attribute_error():
    try:
        streamthumb.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")
