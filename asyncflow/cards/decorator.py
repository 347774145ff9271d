"""``@card``: records a :class:`CardSpec` on the step; several per step are allowed.
The engine renders each card after the task commits (:mod:`asyncflow.cards.runtime`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from ..exceptions import FlowDefinitionError

__all__ = ["CARD_ID_PATTERN", "CardSpec", "card", "card_specs"]

F = TypeVar("F", bound=Callable[..., Any])

#: What a card id may look like (Metaflow's rule); other ids are dropped with a warning.
CARD_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_]+$")


@dataclass(frozen=True)
class CardSpec:
    """One ``@card`` on a step."""

    name = "card"
    type: str = "default"
    id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 45
    save_errors: bool = True
    customize: bool = False
    refresh_interval: float = 5


@overload
def card(func: F) -> F: ...
@overload
def card(
    *,
    type: str = "default",
    id: str | None = None,
    options: Mapping[str, Any] | None = None,
    timeout: float = 45,
    save_errors: bool = True,
    customize: bool = False,
    refresh_interval: float = 5,
    scope: str = "task",
    rank: str | None = None,
) -> Callable[[F], F]: ...
def card(
    func: F | None = None,
    *,
    type: str = "default",
    id: str | None = None,
    options: Mapping[str, Any] | None = None,
    timeout: float = 45,
    save_errors: bool = True,
    customize: bool = False,
    refresh_interval: float = 5,
    scope: str = "task",
    rank: str | None = None,
) -> F | Callable[[F], F]:
    """Render a card of ``type`` for each task of the step once it succeeds.

    ``id`` names the card for ``current.card[id]`` and ``get_cards(..., id=)``;
    ``options`` go to the card type; rendering longer than ``timeout`` seconds, or
    failing, never fails the task: with ``save_errors`` an error card takes the
    card's place, without it the card is left out. ``customize=True`` makes this
    card the one ``current.card.append`` edits when several could be.
    ``scope`` and ``rank`` are accepted for Metaflow's sake and change nothing.
    """
    if not isinstance(type, str) or not type:
        raise FlowDefinitionError(f"@card(type={type!r}) must name a card type")
    if options is not None and not isinstance(options, Mapping):
        raise FlowDefinitionError(f"@card(options={options!r}) must be a dict")
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise FlowDefinitionError(
            f"@card(timeout={timeout!r}) must be a positive number of seconds"
        )
    if id is not None and not isinstance(id, str):
        raise FlowDefinitionError(f"@card(id={id!r}) must be a string")
    spec = CardSpec(
        type, id, dict(options or {}), float(timeout), bool(save_errors),
        str(customize) == "True", float(refresh_interval),
    )  # fmt: skip

    def attach(f: F) -> F:
        specs: list[Any] | None = getattr(f, "decorators", None)
        if specs is None:
            specs = []
            setattr(f, "decorators", specs)  # noqa: B010 - the list @step creates
        specs.append(spec)
        return f

    return attach(func) if func is not None else attach


def card_specs(func: Callable[..., Any]) -> list[CardSpec]:
    """The ``@card`` specs of a step, top to bottom as written above it."""
    specs = [s for s in getattr(func, "decorators", ()) if isinstance(s, CardSpec)]
    return specs[::-1]  # decorators apply bottom-up
