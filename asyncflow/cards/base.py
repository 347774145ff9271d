"""The two classes card authors subclass: ``MetaflowCard`` (a card type) and
``MetaflowCardComponent`` (something placed on a card). Names and hooks are Metaflow's."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["MetaflowCard", "MetaflowCardComponent", "new_component_id"]


class MetaflowCard:
    """A card type: ``render(task)`` turns a finished task into one HTML page.

    ``type`` is the name ``@card(type=...)`` uses. The engine builds the card with
    ``options`` (from the decorator), ``components`` (what the step appended, each
    already rendered to a string or a dict), ``graph`` (step name -> its type,
    successors and docstring) and ``flow`` (the task's flow object), and calls
    ``render`` with the client ``Task`` once the task has committed.

    ``ALLOW_USER_COMPONENTS`` makes the card *editable*: ``current.card.append``
    may target it. ``RUNTIME_UPDATABLE`` cards also get ``render_runtime(task, data)``
    calls from ``current.card.refresh()`` while the task runs.
    """

    type: ClassVar[str | None] = None
    ALLOW_USER_COMPONENTS: ClassVar[bool] = False
    RUNTIME_UPDATABLE: ClassVar[bool] = False
    RELOAD_POLICY_NEVER: ClassVar[str] = "never"
    RELOAD_POLICY_ALWAYS: ClassVar[str] = "always"
    RELOAD_POLICY_ONCHANGE: ClassVar[str] = "onchange"
    RELOAD_POLICY_TOKEN: ClassVar[str] = "[METAFLOW_RELOAD_TOKEN]"
    RELOAD_POLICY: ClassVar[str] = "never"
    scope: ClassVar[str] = "task"

    #: The data given to the latest ``current.card.refresh(data)``, during ``render``.
    runtime_data: Any = None

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        components: Sequence[Any] | None = None,
        graph: Mapping[str, Any] | None = None,
        flow: Any = None,
        **kwargs: Any,
    ) -> None:
        self.options = dict(options or {})
        self.components = list(components or [])
        self.graph = graph
        self.flow = flow

    def render(self, task: Any) -> str:
        """The card's HTML for the finished ``task``."""
        raise NotImplementedError

    def render_runtime(self, task: Any, data: Mapping[str, Any]) -> str:
        """An interim HTML page while the task runs (``RUNTIME_UPDATABLE`` cards)."""
        raise NotImplementedError

    def refresh(self, task: Any, data: Mapping[str, Any]) -> Any:
        """A small data update for a running card; cards may leave it unimplemented."""
        raise NotImplementedError

    def reload_content_token(self, task: Any, data: Mapping[str, Any]) -> str:
        """A token that changes when the card must be reloaded (``RELOAD_POLICY_ONCHANGE``)."""
        return "content-token"


def new_component_id(component: object) -> str:
    """An id for a component that was given none: its class name and 6 random hex digits."""
    return f"{type(component).__name__.lower()}_{secrets.token_hex(3)}"


class MetaflowCardComponent:
    """Something a step places on a card with ``current.card.append(...)``.

    ``render()`` returns a string or a JSON-able dict; the card decides how to show
    it. ``REALTIME_UPDATABLE`` components change with ``update(...)`` while the task runs.
    """

    REALTIME_UPDATABLE: ClassVar[bool] = False
    _component_id: str | None = None
    _logger: Callable[[str], None] | None = None

    @property
    def component_id(self) -> str | None:
        """The id the component is found by on its card (``card.components[id]``)."""
        return self._component_id

    @component_id.setter
    def component_id(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a component id must be a string, not {type(value).__name__}")
        self._component_id = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change what the component shows (components that support live updates)."""
        raise NotImplementedError

    def render(self) -> str | dict[str, Any]:
        """What the card shows for this component: a string or a JSON-able dict."""
        raise NotImplementedError
