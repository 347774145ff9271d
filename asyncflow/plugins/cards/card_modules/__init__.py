"""``metaflow.plugins.cards.card_modules``: the card base classes."""

# Absolute imports: the Metaflow shim may load this file again as metaflow.plugins...
from __future__ import annotations

from asyncflow.cards.base import MetaflowCard, MetaflowCardComponent

__all__ = ["MetaflowCard", "MetaflowCardComponent"]
