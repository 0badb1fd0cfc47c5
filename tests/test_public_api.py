"""The public surface is the curated ``__all__``; every name in it exists and is documented."""

from __future__ import annotations

import ordinance


def test_all_names_exist_and_are_sorted() -> None:
    assert ordinance.__all__ == sorted(ordinance.__all__)
    for name in ordinance.__all__:
        assert hasattr(ordinance, name), name


def test_public_objects_have_docstrings() -> None:
    for name in ordinance.__all__:
        obj = getattr(ordinance, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_private_modules_are_private() -> None:
    public = {n for n in dir(ordinance) if not n.startswith("_")}
    extra = public - set(ordinance.__all__) - {"annotations"}
    # Submodules are importable by path but are not part of the curated surface.
    import types

    assert all(isinstance(getattr(ordinance, n), types.ModuleType) for n in extra), extra


def test_no_public_name_is_also_a_submodule() -> None:
    """``ordinance.promote`` is the function whatever was imported first (issue 12)."""
    import importlib
    import pkgutil
    import types

    modules = {m.name for m in pkgutil.iter_modules(ordinance.__path__)} - {"__main__"}
    for m in sorted(modules):
        importlib.import_module(f"ordinance.{m}")
    clash = sorted(set(ordinance.__all__) & modules)
    assert clash == [], f"public names that are also submodules: {clash}"
    for name in ("promote", "rollback", "history", "approve"):
        obj = getattr(ordinance, name)
        assert callable(obj) and not isinstance(obj, types.ModuleType), name
