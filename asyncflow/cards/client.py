"""Reading cards back: ``get_cards(task)`` gives a list-like :class:`CardContainer` of
:class:`Card` objects; a card's HTML is read on first ``get()``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, overload

from ..store import CardRecord, Datastore, StoreLocation
from .storage import read_card_html, task_cards

if TYPE_CHECKING:
    from ..client import Task

__all__ = ["Card", "CardContainer", "get_cards"]


class Card:
    """One card of a task: ``type``, ``id``, ``hash``; ``get()`` gives its HTML."""

    def __init__(self, record: CardRecord, datastore: Datastore) -> None:
        self._record, self._datastore = record, datastore
        self._html: str | None = None
        self.type, self.id, self.hash = record.type, record.id, record.hash

    @property
    def pathspec(self) -> str:
        """The pathspec of the card's task."""
        return self._record.task_pathspec

    @property
    def path(self) -> str:
        """Where the card is, as a name unique in the datastore:
        ``Flow/run/step/task/cards/<type>[-<id>]-<hash>.html``."""
        name = "-".join(p for p in (self.type, self.id, self.hash) if p)
        return f"{self.pathspec}/cards/{name}.html"

    @property
    def key(self) -> str:
        """The content key (BLAKE3) of the card's HTML in the blob store."""
        return self._record.key

    @property
    def size(self) -> int:
        """The HTML's size in bytes."""
        return self._record.size

    @property
    def created_at(self) -> datetime:
        """When this rendering of the card was stored."""
        return datetime.fromtimestamp(self._record.created_at)

    @property
    def runtime(self) -> bool:
        """Whether this is an interim render of a task still running."""
        return self._record.runtime

    def get(self) -> str:
        """The card's HTML (read once, checked against its content key)."""
        if self._html is None:
            self._html = read_card_html(self._datastore, self._record)
        return self._html

    async def aget(self) -> str:
        """:meth:`get` in a worker thread, so the event loop stays free."""
        if self._html is not None:
            return self._html
        from ..client import in_thread

        return await in_thread(self.get)

    def view(self) -> str:
        """Open the card in the web browser; the path of the file it opened."""
        import tempfile
        import webbrowser

        with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8") as f:
            f.write(self.get())
        webbrowser.open("file://" + os.path.abspath(f.name))
        return f.name

    def _repr_html_(self) -> str:
        return self.get()

    def __repr__(self) -> str:
        return f"<Card {self.path}>"


class CardContainer:
    """The cards :func:`get_cards` found: index, iterate, ``len()``; a notebook shows them."""

    def __init__(self, cards: list[Card], pathspec: str) -> None:
        self._cards, self.pathspec = cards, pathspec

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    @overload
    def __getitem__(self, index: int) -> Card: ...
    @overload
    def __getitem__(self, index: slice) -> list[Card]: ...
    def __getitem__(self, index: int | slice) -> Card | list[Card]:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "\n".join(
            f"<h3>{card.type}{f' ({card.id})' if card.id else ''}</h3>{card.get()}"
            for card in self._cards
        )

    def __repr__(self) -> str:
        return f"<CardContainer {self.pathspec}: {len(self)} card(s)>"


def _task(task: Task | str, root: StoreLocation | None) -> Task:
    from ..client import Task

    if isinstance(task, Task):
        return task
    if isinstance(task, str):
        return Task(task, root=root, _namespace_check=False)
    raise TypeError(f"get_cards() wants a Task or a task pathspec, not {type(task).__name__}")


def get_cards(
    task: Task | str,
    id: str | None = None,
    type: str | None = None,
    follow_resumed: bool = True,
    *,
    root: StoreLocation | None = None,
) -> CardContainer:
    """The cards of ``task`` (a client ``Task`` or ``Flow/run/step/task``), those of
    ``type`` and ``id`` if given. Reads only card records; the HTML comes on ``get()``.

    A task of a resumed run that was cloned has its origin's cards (``follow_resumed``
    is accepted for Metaflow's sake: the clone already carries them). An unknown task
    raises :class:`NotFoundError`; a task without matching cards gives an empty container.
    """
    found = _task(task, root)
    store: Datastore = found._store
    record = found._record
    cards = [
        Card(r, store)
        for r in task_cards(store, record)
        if (type is None or r.type == type) and (id is None or r.id == id)
    ]
    return CardContainer(cards, found.pathspec)
