"""Cards: HTML reports of tasks, as Metaflow's ``@card`` makes them.

``@card(type="default")`` on a step renders a card for each of its tasks once it
succeeds; the step adds components with ``current.card.append(Markdown(...))``;
``get_cards(task)`` reads them back and ``python flow.py card get|list|view`` shows
them. Names load on first use, as in :mod:`asyncflow`.
"""

from __future__ import annotations

import typing

from .. import _lazy

if typing.TYPE_CHECKING:
    from .base import MetaflowCard, MetaflowCardComponent
    from .client import Card, CardContainer, get_cards
    from .collector import CardCollector, CardEditor, ComponentStore
    from .components import (
        Artifact,
        Error,
        Image,
        Markdown,
        ProgressBar,
        Table,
        UserComponent,
        VegaChart,
    )
    from .decorator import CardSpec, card
    from .default import BlankCard, DefaultCard, ErrorCard
    from .exceptions import CardNotFoundError, CardNotPresentException, CardTypeNotFoundError
    from .types import card_type, card_type_names, register_card_type

__all__ = [
    "Artifact",
    "BlankCard",
    "Card",
    "CardCollector",
    "CardContainer",
    "CardEditor",
    "CardNotFoundError",
    "CardNotPresentException",
    "CardSpec",
    "CardTypeNotFoundError",
    "ComponentStore",
    "DefaultCard",
    "Error",
    "ErrorCard",
    "Image",
    "Markdown",
    "MetaflowCard",
    "MetaflowCardComponent",
    "ProgressBar",
    "Table",
    "UserComponent",
    "VegaChart",
    "card",
    "card_type",
    "card_type_names",
    "get_cards",
    "register_card_type",
]

_HOMES = {
    "Artifact": ".components",
    "BlankCard": ".default",
    "Card": ".client",
    "CardCollector": ".collector",
    "CardContainer": ".client",
    "CardEditor": ".collector",
    "CardNotFoundError": ".exceptions",
    "CardNotPresentException": ".exceptions",
    "CardSpec": ".decorator",
    "CardTypeNotFoundError": ".exceptions",
    "ComponentStore": ".collector",
    "DefaultCard": ".default",
    "Error": ".components",
    "ErrorCard": ".default",
    "Image": ".components",
    "Markdown": ".components",
    "MetaflowCard": ".base",
    "MetaflowCardComponent": ".base",
    "ProgressBar": ".components",
    "Table": ".components",
    "UserComponent": ".components",
    "VegaChart": ".components",
    "card": ".decorator",
    "card_type": ".types",
    "card_type_names": ".types",
    "get_cards": ".client",
    "register_card_type": ".types",
}

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy.exports(__name__, _HOMES, globals())
