"""A task's cards (``@card``), each in a sandboxed iframe.

The card's HTML is the task's: it is served from its own route with a
``sandbox`` Content-Security-Policy and shown in an ``<iframe sandbox>`` without
``allow-same-origin``, so its scripts run in an opaque origin and cannot reach
the UI's pages, cookies or storage.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ..exceptions import NotFoundError, PathspecError
from ..store import TaskRecord
from ._html import Markup, el, url

__all__ = ["cards_section", "load_card"]


def _get_cards(root: str | os.PathLike[str] | None, task: TaskRecord) -> list[Any] | None:
    """The task's cards, or None where this asyncflow has no cards."""
    try:
        cards = importlib.import_module("asyncflow.cards")
    except ImportError:
        return None
    try:
        return list(cards.get_cards(task.pathspec, root=root))
    except PathspecError:  # names no flow can have (a hostile store's): no cards, then
        return []


def cards_section(root: str | os.PathLike[str] | None, task: TaskRecord) -> Markup | None:
    """The task page's cards: a sandboxed iframe each (None without any)."""
    found = _get_cards(root, task)
    if not found:
        return None
    frames = [
        el(
            "figure",
            el("figcaption", f"{card.type}" + (f" ({card.id})" if card.id else "")),
            el(
                "iframe",
                src=url("flows", *task.pathspec.split("/"), "cards", i),
                sandbox="allow-scripts",
                class_="card",
                title=f"card {card.type}",
                loading="lazy",
                referrerpolicy="no-referrer",
            ),
            class_="card",
        )
        for i, card in enumerate(found)
    ]
    return el("section", el("h2", "Cards"), frames, class_="cards")


def load_card(root: str | os.PathLike[str] | None, task: TaskRecord, index: int) -> str:
    """The HTML of the task's card number ``index``."""
    found = _get_cards(root, task) or []
    if not 0 <= index < len(found):
        raise NotFoundError("card", f"{task.pathspec}/cards/{index}")
    return str(found[index].get())
