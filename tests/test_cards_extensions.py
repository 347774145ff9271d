"""Card types from Metaflow card packages (``metaflow_extensions.<org>.plugins.cards``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow import Engine, FlowSpec, card, current, step
from asyncflow.cards import get_cards, types
from asyncflow.cards.exceptions import CardTypeNotFoundError
from asyncflow.cards.testing import TestStringComponent

pytestmark = pytest.mark.anyio

GOOD = """
from asyncflow.cards import MetaflowCard


class PathCard(MetaflowCard):
    type = "acme_path_card"

    def render(self, task):
        return "path " + task.pathspec


class EchoCard(MetaflowCard):
    type = "acme_echo_card"
    ALLOW_USER_COMPONENTS = True

    def __init__(self, options={}, components=[], graph=None, flow=None, **kwargs):
        self._components = components

    def render(self, task):
        return "|".join(self._components)


CARDS = [PathCard, EchoCard]
"""


@pytest.fixture
def card_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Metaflow extension package with a good card module, a broken one and one whose
    CARDS is wrong (namespace packages all the way down, as Metaflow's are); the card
    registry as if nothing were loaded yet."""
    cards = tmp_path / "metaflow_extensions" / "acme" / "plugins" / "cards"
    for name, text in {
        "good": GOOD,
        "broken": 'raise ImportError("needs a library that is not installed")\n',
        "wrong": "CARDS = 'not a list'\n",
        "helpers": "X = 1\n",  # no CARDS: not a card module, passed over quietly
    }.items():
        (cards / name).mkdir(parents=True)
        (cards / name / "__init__.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(types, "_plugins_loaded", False)
    monkeypatch.setattr(types, "_registered", {})
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("metaflow_extensions")]:
        del sys.modules[module]


def test_card_modules_of_extension_packages_add_their_types(
    card_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path_card = types.card_type("acme_path_card")
    assert path_card is not None and path_card.__module__.endswith("acme.plugins.cards.good")
    assert {"acme_path_card", "acme_echo_card"} <= set(types.card_type_names())
    err = capsys.readouterr().err
    assert (
        "asyncflow: card module 'metaflow_extensions.acme.plugins.cards.broken' skipped: "
        "needs a library that is not installed\n"
    ) in err
    assert (
        "asyncflow: card module 'metaflow_extensions.acme.plugins.cards.wrong' skipped: "
        "its CARDS is str, not a list\n"
    ) in err
    assert "helpers" not in err


def test_an_unknown_card_type_says_where_types_come_from(card_package: Path) -> None:
    message = str(CardTypeNotFoundError("nope", ["acme_path_card"]))
    assert message.endswith(
        "(register more with asyncflow.cards.register_card_type, the 'asyncflow.cards' "
        "entry-point group or a Metaflow card package)"
    )


class ExtensionCardFlow(FlowSpec):
    @card(type="acme_path_card", save_errors=False)
    @card(type="acme_echo_card", save_errors=False)
    @step
    def start(self):
        current.card.append(TestStringComponent("one"))
        current.card.append(TestStringComponent("two"))
        self.next(self.end)

    @step
    def end(self):
        pass


async def test_a_flow_renders_cards_of_an_extension_package(
    card_package: Path, store_root: Path
) -> None:
    result = await Engine().run(ExtensionCardFlow)
    task = result.run["start"].task
    assert task is not None
    rendered = {c.type: c.get() for c in get_cards(task)}
    assert rendered == {"acme_path_card": f"path {task.pathspec}", "acme_echo_card": "one|two"}
