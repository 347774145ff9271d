"""Building HTML that escapes by default: every plain ``str`` is text, only
:class:`Markup` is trusted.

Everything the store holds (flow and artifact names, tags, logs, tracebacks) is
written by whoever can write the store, so it only ever reaches a page as text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TypeAlias
from urllib.parse import quote

__all__ = ["Child", "Markup", "el", "esc", "join", "url"]


class Markup(str):
    """HTML that is already safe: built by :func:`el` or :func:`esc`."""

    __slots__ = ()


Child: TypeAlias = "str | int | float | Markup | Iterable[Child] | None"

_VOID = frozenset({"base", "br", "hr", "img", "input", "meta", "link"})


def esc(value: object) -> Markup:
    """``value`` as text: ``<``, ``>``, ``&`` and both quotes escaped (Markup passes)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(children: Child) -> Markup:
    """Children as one piece of HTML; ``None`` is left out, iterables are flattened."""
    if children is None:
        return Markup("")
    if isinstance(children, str | int | float):
        return esc(children)
    return Markup("".join(join(child) for child in children))


def el(tag: str, *children: Child, **attrs: object) -> Markup:
    """One element: ``el("a", name, href=url)``; ``class_`` is ``class``, ``data_x`` is
    ``data-x``; an attribute that is ``None`` or ``False`` is left out, ``True`` has no value."""
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{join(children)}</{tag}>")


def url(*parts: object, **query: object) -> str:
    """A link to a page of the app, relative to the page's ``<base>`` (the app's root,
    wherever it is mounted); each part percent-encoded, ``query`` arguments that are
    not None or empty."""
    path = "./" + "/".join(quote(str(p), safe="") for p in parts)
    args = [f"{quote(k)}={quote(str(v), safe='')}" for k, v in query.items() if v not in (None, "")]
    return path + ("?" + "&".join(args) if args else "")
