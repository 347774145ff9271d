"""Card types for testing card plumbing, as Metaflow ships them (its core test suite
uses them by name): each renders plain text, so a test can compare a card exactly.

``taskspec_card`` and ``test_pathspec_card`` render the task's pathspec,
``test_editable_card`` joins its components' renderings with :data:`SEPARATOR`,
``test_error_card`` raises, ``test_timeout_card`` sleeps ``options["timeout"]`` seconds.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from .base import MetaflowCard, MetaflowCardComponent

__all__ = [
    "SEPARATOR",
    "TaskSpecCard",
    "TestEditableCard",
    "TestEditableCard2",
    "TestErrorCard",
    "TestJSONComponent",
    "TestMockCard",
    "TestNonEditableCard",
    "TestPathSpecCard",
    "TestRefreshCard",
    "TestStringComponent",
    "TestTimeoutCard",
]

#: What the editable test cards put between their components.
SEPARATOR = "$&#!!@*"


class TestStringComponent(MetaflowCardComponent):
    """A component that renders to its text."""

    __test__ = False  # not a pytest test class

    REALTIME_UPDATABLE = True

    def __init__(self, text: Any) -> None:
        self._text = text

    def render(self) -> str:
        """The text."""
        return str(self._text)

    def update(self, text: Any) -> None:
        """Render ``text`` from now on."""
        self._text = text


class TestJSONComponent(MetaflowCardComponent):
    """A component that renders to the data it holds."""

    __test__ = False  # not a pytest test class

    REALTIME_UPDATABLE = True

    def __init__(self, data: Any) -> None:
        self._data = data

    def render(self) -> Any:
        """The data."""
        return self._data

    def update(self, data: Any) -> None:
        """Render ``data`` from now on."""
        self._data = data


class TaskSpecCard(MetaflowCard):
    """The task's pathspec, nothing else."""

    type = "taskspec_card"

    def render(self, task: Any) -> str:
        """``Flow/run/step/task``."""
        return str(task.pathspec)


class TestPathSpecCard(MetaflowCard):
    """The task's pathspec and six random characters (two such cards differ)."""

    __test__ = False  # not a pytest test class

    type = "test_pathspec_card"

    def render(self, task: Any) -> str:
        """``Flow/run/step/task XXXXXX``."""
        return f"{task.pathspec} {secrets.token_hex(3).upper()}"


class TestEditableCard(MetaflowCard):
    """Its components' renderings joined by :data:`SEPARATOR`; editable."""

    __test__ = False  # not a pytest test class

    type = "test_editable_card"
    ALLOW_USER_COMPONENTS = True

    def render(self, task: Any) -> str:
        """The joined components."""
        return SEPARATOR.join(str(c) for c in self.components)


class TestEditableCard2(TestEditableCard):
    """A second editable test card type."""

    __test__ = False  # not a pytest test class

    type = "test_editable_card_2"


class TestNonEditableCard(MetaflowCard):
    """Like :class:`TestEditableCard`, but ``current.card.append`` never picks it."""

    __test__ = False  # not a pytest test class

    type = "test_non_editable_card"

    def render(self, task: Any) -> str:
        """The joined components (those given through ``current.card[id]``)."""
        return SEPARATOR.join(str(c) for c in self.components)


class TestMockCard(MetaflowCard):
    """The value of the artifact named by ``options["key"]``."""

    __test__ = False  # not a pytest test class

    type = "test_mock_card"

    def render(self, task: Any) -> str:
        """``str`` of the artifact's value."""
        return str(task[self.options.get("key", "dummy_key")].data)


class TestErrorCard(MetaflowCard):
    """Always fails to render."""

    __test__ = False  # not a pytest test class

    type = "test_error_card"

    def render(self, task: Any) -> str:
        """Raise."""
        raise RuntimeError("Unknown Things Happened")


class TestTimeoutCard(MetaflowCard):
    """Sleeps ``options["timeout"]`` seconds (default 10), then renders the pathspec."""

    __test__ = False  # not a pytest test class

    type = "test_timeout_card"

    def render(self, task: Any) -> str:
        """The pathspec, late."""
        time.sleep(float(self.options.get("timeout", 10)))
        return str(task.pathspec)


class TestRefreshCard(MetaflowCard):
    """Shows the data of the latest ``current.card.refresh(data)``, as JSON."""

    __test__ = False  # not a pytest test class

    type = "test_refresh_card"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True
    RELOAD_POLICY = MetaflowCard.RELOAD_POLICY_ALWAYS

    def _page(self, task: Any, data: Mapping[str, Any] | None) -> str:
        user = (data or {}).get("user")
        return f"<html><h1>{task.pathspec}</h1><h1>{json.dumps(user)}</h1></html>"

    def render(self, task: Any) -> str:
        """The latest refresh data."""
        return self._page(task, self.runtime_data)

    def render_runtime(self, task: Any, data: Mapping[str, Any]) -> str:
        """The refresh data so far."""
        return self._page(task, data)

    def refresh(self, task: Any, data: Mapping[str, Any]) -> Any:
        """The data itself."""
        return data
