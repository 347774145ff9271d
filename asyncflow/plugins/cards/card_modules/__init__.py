"""``metaflow.plugins.cards.card_modules``: the card base classes."""

from __future__ import annotations

from ....cards.base import MetaflowCard, MetaflowCardComponent

__all__ = ["MetaflowCard", "MetaflowCardComponent"]
