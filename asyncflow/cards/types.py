"""Card types by name: the built-in ones, those registered in code, those of the
``asyncflow.cards`` entry-point group and those of Metaflow card packages
(``metaflow_extensions.*.plugins.cards``; both loaded once, on the first lookup; a broken
plugin is reported and skipped, never fatal)."""

from __future__ import annotations

import importlib
import sys
import threading

from .base import MetaflowCard
from .extensions import metaflow_extension_cards

__all__ = ["card_type", "card_type_names", "register_card_type"]

#: Built-in types: name -> "module:Class" (imported when first asked for).
_BUILT_IN = {
    "default": "asyncflow.cards.default:DefaultCard",
    "blank": "asyncflow.cards.default:BlankCard",
    "error": "asyncflow.cards.default:ErrorCard",
    "taskspec_card": "asyncflow.cards.testing:TaskSpecCard",
    "test_pathspec_card": "asyncflow.cards.testing:TestPathSpecCard",
    "test_editable_card": "asyncflow.cards.testing:TestEditableCard",
    "test_editable_card_2": "asyncflow.cards.testing:TestEditableCard2",
    "test_non_editable_card": "asyncflow.cards.testing:TestNonEditableCard",
    "test_mock_card": "asyncflow.cards.testing:TestMockCard",
    "test_error_card": "asyncflow.cards.testing:TestErrorCard",
    "test_timeout_card": "asyncflow.cards.testing:TestTimeoutCard",
    "test_refresh_card": "asyncflow.cards.testing:TestRefreshCard",
}

_registered: dict[str, type[MetaflowCard]] = {}
_lock = threading.Lock()
_plugins_loaded = False


def register_card_type(cls: type[MetaflowCard]) -> type[MetaflowCard]:
    """Make ``cls`` available as ``@card(type=cls.type)``; usable as a class decorator.
    A registered type of the same name as a built-in one replaces it."""
    if not (isinstance(cls, type) and issubclass(cls, MetaflowCard)) or not cls.type:
        raise TypeError(f"{cls!r} is not a MetaflowCard subclass with a `type` name")
    with _lock:
        _registered[cls.type] = cls
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    with _lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group="asyncflow.cards"):
        try:
            loaded = entry.load()
            for cls in loaded if isinstance(loaded, list | tuple) else [loaded]:
                with _lock:
                    _registered.setdefault(cls.type, cls)
        except Exception as exc:  # a broken plugin must not break every card
            print(f"asyncflow: card plugin {entry.name!r} skipped: {exc}", file=sys.stderr)
    for module, found in metaflow_extension_cards():
        if isinstance(found, Exception):
            print(f"asyncflow: card module {module!r} skipped: {found}", file=sys.stderr)
            continue
        with _lock:
            for name, cls in found.items():
                _registered.setdefault(name, cls)


def card_type(name: str) -> type[MetaflowCard] | None:
    """The card class named ``name``, or None."""
    with _lock:
        found = _registered.get(name)
    if found is not None:
        return found
    home = _BUILT_IN.get(name)
    if home is not None:
        module, _, attr = home.partition(":")
        cls: type[MetaflowCard] = getattr(importlib.import_module(module), attr)
        return cls
    _load_plugins()
    with _lock:
        return _registered.get(name)


def card_type_names() -> list[str]:
    """Every card type name known, sorted."""
    _load_plugins()
    with _lock:
        return sorted({*_BUILT_IN, *_registered})
