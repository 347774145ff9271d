"""``current.card``: what a step appends to its cards while it runs.

Metaflow's rules decide which card ``current.card.append`` edits (the *default
editable* card): among the editable cards (their type allows user components), the
only one; else the only one without an id; and a single ``customize=True`` card wins
over both. Any card, editable or not, is reachable as ``current.card[id]``. A call
that cannot be resolved warns (on stderr, and on the cards, unless
``ASYNCFLOW_CARD_NO_WARNING`` or ``METAFLOW_CARD_NO_WARNING`` is set) and is ignored:
cards never fail a step.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from .base import MetaflowCardComponent, new_component_id
from .components import render_component
from .decorator import CARD_ID_PATTERN, CardSpec
from .types import card_type

__all__ = [
    "CardCollector",
    "CardEditor",
    "ComponentStore",
    "PlannedCard",
    "active_collector",
    "enter_collector",
    "leave_collector",
    "warn",
]

_TRUE = ("1", "true", "yes", "on")


def _no_warnings() -> bool:
    names = ("ASYNCFLOW_CARD_NO_WARNING", "METAFLOW_CARD_NO_WARNING")
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def warn(message: str) -> None:
    """Print a card warning where the task's stderr goes."""
    print(f"[@card WARNING] {message}", file=sys.stderr)


class ComponentStore:
    """The components of one card, in order, also reachable by their ids."""

    def __init__(self, components: Iterable[Any] = ()) -> None:
        self._by_id: dict[str, MetaflowCardComponent] = {}
        self.changed_at = time.time()
        for component in components:
            self.append(component)

    def append(self, component: Any, id: str | None = None) -> None:
        """Add ``component`` (under ``id`` if given); anything that is not a component
        is dropped with a warning."""
        if not isinstance(component, MetaflowCardComponent):
            warn(f"{component!r} is not a card component (a MetaflowCardComponent); not added")
            return
        if id is not None:
            component.component_id = id
        elif component.component_id is None:
            component.component_id = new_component_id(component)
        assert component.component_id is not None
        self._by_id[component.component_id] = component
        self.changed_at = time.time()

    def extend(self, components: Iterable[Any]) -> None:
        """Add each of ``components``."""
        for component in components:
            self.append(component)

    def clear(self) -> None:
        """Remove every component."""
        self._by_id.clear()
        self.changed_at = time.time()

    def __getitem__(self, component_id: str) -> MetaflowCardComponent:
        return self._by_id[component_id]

    def __setitem__(self, component_id: str, component: Any) -> None:
        if component_id in self._by_id:
            raise KeyError(
                f"component '{component_id}' is already on the card; replace the whole card "
                "(current.card[id] = [...]) or update the component"
            )
        self.append(component, id=component_id)

    def __delitem__(self, component_id: str) -> None:
        del self._by_id[component_id]
        self.changed_at = time.time()

    def __contains__(self, component_id: object) -> bool:
        return component_id in self._by_id

    def __iter__(self) -> Iterator[MetaflowCardComponent]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def keys(self) -> list[str]:
        """The components' ids, in order."""
        return list(self._by_id)

    def rendered(self) -> list[Any]:
        """Each component rendered (a string or a dict); failures become error dicts."""
        out = (render_component(c) for c in self)
        return [r for r in out if r is not None]


@dataclass
class PlannedCard:
    """One ``@card`` of the running task: its spec, identity and components so far."""

    spec: CardSpec
    hash: str
    id: str | None
    editable: bool
    exists: bool
    components: ComponentStore = field(default_factory=ComponentStore)
    refresh_data: Any = None
    last_refresh: float = 0.0


class CardEditor:
    """One card as ``current.card[id]`` gives it: ``append``, ``extend``, ``clear``,
    ``components`` and ``refresh``."""

    def __init__(
        self, planned: PlannedCard, on_refresh: Callable[[PlannedCard, bool], None]
    ) -> None:
        self._planned, self._on_refresh = planned, on_refresh

    @property
    def components(self) -> ComponentStore:
        """The card's components, by id."""
        return self._planned.components

    def append(self, component: Any, id: str | None = None) -> None:
        """Add a component to this card."""
        self._planned.components.append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        """Add several components to this card."""
        self._planned.components.extend(components)

    def clear(self) -> None:
        """Remove this card's components."""
        self._planned.components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Keep ``data`` for the card and re-render it while the task runs (cards that
        support it), at most once per ``refresh_interval`` seconds unless ``force``."""
        self._planned.refresh_data = data
        now = time.time()
        if not force and now - self._planned.last_refresh < self._planned.spec.refresh_interval:
            return
        self._planned.last_refresh = now
        self._on_refresh(self._planned, force)

    def __iter__(self) -> Iterator[MetaflowCardComponent]:
        return iter(self._planned.components)

    def __len__(self) -> int:
        return len(self._planned.components)


class _Unreachable(list[Any]):
    """What ``current.card[unknown_id]`` returns: an empty list nothing reads."""

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Ignored."""


class CardCollector:
    """``current.card`` of a task with ``@card`` decorators."""

    def __init__(
        self,
        specs: Iterable[CardSpec],
        on_refresh: Callable[[PlannedCard, bool], None] | None = None,
    ) -> None:
        self._warned: set[str] = set()
        self.cards: list[PlannedCard] = []
        self.cards = [self._plan(spec) for spec in specs]
        self._on_refresh = on_refresh or (lambda planned, force: None)
        self._by_id = self._ids()
        self._default = self._default_editable()

    @staticmethod
    def _plan(spec: CardSpec) -> PlannedCard:
        cls = card_type(spec.type)
        card_id = spec.id
        if card_id is not None and not CARD_ID_PATTERN.match(card_id):
            warn(f"@card(id={card_id!r}) is not made of letters, digits and _: "
                 "current.card[id] cannot reach it")  # fmt: skip
            card_id = None
        editable = cls is not None and cls.ALLOW_USER_COMPONENTS
        return PlannedCard(spec, secrets.token_hex(16), card_id, editable, cls is not None)

    def _ids(self) -> dict[str, PlannedCard]:
        by_id: dict[str, list[PlannedCard]] = {}
        for planned in self.cards:
            if planned.id is not None:
                by_id.setdefault(planned.id, []).append(planned)
        for card_id, same in by_id.items():
            if len(same) > 1:
                self._warn_once(f"id:{card_id}", f"several @card decorators have id '{card_id}': "
                                f"current.card['{card_id}'] cannot choose")  # fmt: skip
        return {k: v[0] for k, v in by_id.items() if len(v) == 1}

    def _default_editable(self) -> PlannedCard | None:
        editable = [c for c in self.cards if c.editable]
        customized = [c for c in editable if c.spec.customize]
        if len(customized) > 1:
            self._warn_once("customize", "several @card decorators have customize=True; "
                            "current.card.append ignores them all")  # fmt: skip
        if len(customized) == 1:
            return customized[0]
        if len(editable) == 1:
            return editable[0]
        without_id = [c for c in editable if c.id is None]
        return without_id[0] if len(without_id) == 1 else None

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        warn(message)
        if not _no_warnings():
            for planned in self.cards:
                planned.components.append(_WarningComponent(message))

    def _editor(self, planned: PlannedCard) -> CardEditor:
        return CardEditor(planned, self._on_refresh)

    def _default_or_warn(self, method: str) -> CardEditor | None:
        if self._default is not None:
            return self._editor(self._default)
        if len(self.cards) == 1 and not self.cards[0].exists:
            why = f"card type '{self.cards[0].spec.type}' does not exist"
        elif len(self.cards) == 1:
            why = f"card type '{self.cards[0].spec.type}' is not editable"
        else:
            why = (
                "it cannot choose among several editable cards (leave exactly one without "
                "an id, or mark one customize=True; reach the others as current.card[id])"
            )
        self._warn_once(method, f"current.card.{method} is ignored: {why}")
        return None

    def __getitem__(self, card_id: str) -> CardEditor | _Unreachable:
        planned = self._by_id.get(card_id)
        if planned is not None:
            return self._editor(planned)
        self._warn_once(f"get:{card_id}", f"no @card has id '{card_id}': current.card['{card_id}'] "
                        "is an empty list that no card shows")  # fmt: skip
        return _Unreachable()

    def __setitem__(self, card_id: str, components: list[Any]) -> None:
        planned = self._by_id.get(card_id)
        if planned is None or not isinstance(components, list):
            warn(
                f"current.card['{card_id}'] = ... is ignored: "
                + ("no @card has that id" if planned is None else "give a list of components")
            )
            return
        planned.components = ComponentStore(components)

    def append(self, component: Any, id: str | None = None) -> None:
        """Add a component to the default editable card."""
        editor = self._default_or_warn("append")
        if editor is not None:
            editor.append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        """Add components to the default editable card."""
        editor = self._default_or_warn("extend")
        if editor is not None:
            editor.extend(components)

    def clear(self) -> None:
        """Remove the default editable card's components."""
        if self._default is not None:
            self._default.components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Re-render the default editable card while the task runs (see
        :meth:`CardEditor.refresh`)."""
        if self._default is not None:
            self._editor(self._default).refresh(data, force)

    @property
    def components(self) -> ComponentStore | None:
        """The default editable card's components (None, with a warning, if there is none)."""
        editor = self._default_or_warn("components")
        return editor.components if editor is not None else None

    def get(self, type: str | None = None) -> list[CardEditor]:
        """The cards of ``type`` (several ``@card`` may share one), as editors."""
        return [self._editor(c) for c in self.cards if c.spec.type == type]


class _WarningComponent(MetaflowCardComponent):
    def __init__(self, message: str) -> None:
        self._message = message

    def render(self) -> dict[str, Any]:
        return {"type": "error", "headline": "@card WARNING", "data": self._message}


_collector: ContextVar[CardCollector | None] = ContextVar("asyncflow_card", default=None)


def active_collector() -> CardCollector | None:
    """The running task's ``current.card``, if its step has ``@card``."""
    return _collector.get()


def enter_collector(collector: CardCollector) -> Token[CardCollector | None]:
    """Make ``collector`` the running task's ``current.card``."""
    return _collector.set(collector)


def leave_collector(token: Token[CardCollector | None]) -> None:
    """Undo :func:`enter_collector`."""
    _collector.reset(token)
