"""The public surface: ``__all__`` of every module, re-export-only packages, the error tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types

import pytest

import asyncflow
import asyncflow.exceptions
import serializers

#: Modules not to import here: ``__main__`` runs the console script.
_SKIP = {"asyncflow.__main__"}


def _modules(package: types.ModuleType) -> list[str]:
    found = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name not in _SKIP:
            found.append(info.name)
    return found


MODULES = _modules(asyncflow) + _modules(serializers)
PACKAGES = [name for name in MODULES if hasattr(importlib.import_module(name), "__path__")]


def _defined_here(module: types.ModuleType) -> set[str]:
    """Public classes and functions whose home is ``module``."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_what_the_module_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert sorted(_defined_here(module) - set(module.__all__)) == []
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", PACKAGES)
def test_packages_only_re_export(name: str) -> None:
    package = importlib.import_module(name)
    for exported in package.__all__:  # lazy packages bind a name on first access
        getattr(package, exported)
    public = {
        n
        for n, value in vars(package).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(value, types.ModuleType)
    }
    assert sorted(public ^ set(package.__all__)) == []
    assert sorted(_defined_here(package)) == []


def _drawn_tree() -> dict[str, str | None]:
    """Each class drawn in the docstring of asyncflow.exceptions, with its drawn parent."""
    doc = asyncflow.exceptions.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^( *)((?:[│ ] {3}|[├└]── )*)([A-Z]\w+)\b", line)
        if match is None or not match.group(3).endswith(("Exception", "Error", "Failed")):
            continue
        depth = len(match.group(2)) // 4
        del stack[depth:]
        parents[match.group(3)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(3)))
    return parents


def test_the_exception_tree_drawing_matches_the_classes() -> None:
    module = asyncflow.exceptions
    actual = {
        name: (None if cls is module.AsyncflowException else cls.__mro__[1].__name__)
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, module.AsyncflowException)
    }
    assert _drawn_tree() == actual


@pytest.mark.parametrize("name", MODULES)
def test_public_classes_and_functions_have_docstrings(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    missing = sorted(n for n in _defined_here(module) if not inspect.getdoc(getattr(module, n)))
    assert missing == []
