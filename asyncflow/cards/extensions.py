"""Card types of Metaflow card packages: each ``metaflow_extensions.<org>.plugins.cards.<name>``
module on ``sys.path`` with a ``CARDS`` list, found as Metaflow finds them, so a card
package written for Metaflow works unchanged. A module that fails to import is skipped."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from .base import MetaflowCard

__all__ = ["metaflow_extension_cards"]

_ROOT = "metaflow_extensions"


def metaflow_extension_cards() -> Iterator[tuple[str, dict[str, type[MetaflowCard]] | Exception]]:
    """``(module name, its card classes by type name)`` for each card module of each
    Metaflow extension package (none for a module without ``CARDS``), or ``(module name,
    the error)`` when it cannot be imported or its ``CARDS`` is no list of card classes."""
    for package in _card_packages():
        for sub in _children(package):
            name = f"{package.__name__}.{sub}"
            try:
                yield name, _cards_of(importlib.import_module(name))
            except Exception as exc:  # a broken package must not break every card
                yield name, exc


def _card_packages() -> Iterator[ModuleType]:
    try:
        if importlib.util.find_spec(_ROOT) is None:
            return
        root = importlib.import_module(_ROOT)
    except ImportError:
        return
    for org in _children(root):
        name = f"{_ROOT}.{org}.plugins.cards"
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # no plugins package in this extension
            continue
        if found:
            yield importlib.import_module(name)


def _children(package: ModuleType) -> list[str]:
    """The modules and packages in ``package``, namespace packages (directories without
    ``__init__.py``, as extension packages are) included, which pkgutil leaves out."""
    names = {m.name for m in pkgutil.iter_modules(getattr(package, "__path__", []))}
    for entry in getattr(package, "__path__", []):
        with contextlib.suppress(OSError):
            names.update(
                d.name
                for d in os.scandir(entry)
                if d.is_dir() and d.name.isidentifier() and not d.name.startswith("__")
            )
    return sorted(names)


def _cards_of(module: object) -> dict[str, type[MetaflowCard]]:
    cards = getattr(module, "CARDS", [])
    if not isinstance(cards, list | tuple):
        raise TypeError(f"its CARDS is {type(cards).__name__}, not a list")
    found: dict[str, type[MetaflowCard]] = {}
    for cls in cards:
        if not (isinstance(cls, type) and issubclass(cls, MetaflowCard) and cls.type):
            raise TypeError(f"its CARDS holds {cls!r}, no MetaflowCard subclass with a `type`")
        found.setdefault(cls.type, cls)
    return found
