import inspect

import streamthumb


def test_all_lists_exactly_the_public_names():
    public = {name for name in vars(streamthumb) if not name.startswith("_") and not inspect.ismodule(getattr(streamthumb, name))}
    public.discard("annotations")
    assert set(streamthumb.__all__) - {"__version__"} == public


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
    assert params["progress"].kind is inspect.Parameter.KEYWORD_ONLY
