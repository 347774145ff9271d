"""Namespaces: which runs the client sees (Metaflow's ``namespace()``)."""

from __future__ import annotations

from typing import Any

from ..current import current
from ..exceptions import NamespaceMismatchError
from ..store import RunRecord

__all__ = ["check_namespace", "default_namespace", "get_namespace", "in_namespace", "namespace"]

_UNSET: Any = object()
_namespace: Any = _UNSET


def default_namespace() -> str:
    """Reset the namespace to the default and return it: the running flow's
    namespace inside a task, else ``user:<name>``."""
    global _namespace
    _namespace = _default()
    return str(_namespace)


def _default() -> str:
    if current.is_running_flow and current.namespace:
        return str(current.namespace)
    from ..users import current_user

    return f"user:{current_user()}"


def namespace(ns: str | None) -> str | None:
    """Switch the namespace the client sees (any tag, e.g. ``user:ann``); ``None``
    sees every run. Returns ``ns``."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace; ``None`` means global."""
    return _default() if _namespace is _UNSET else _namespace


def in_namespace(record: RunRecord) -> bool:
    """Whether the run is in the current namespace (always, in the global one)."""
    ns = get_namespace()
    return ns is None or ns in record.tags or ns in record.system_tags


def check_namespace(record: RunRecord, kind: str, pathspec: str) -> None:
    """Raise :class:`NamespaceMismatchError` for a run outside the current namespace."""
    if not in_namespace(record):
        raise NamespaceMismatchError(kind, pathspec, str(get_namespace()))
