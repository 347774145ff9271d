"""``metaflow.plugins.cards.exception``: the card errors Metaflow code catches."""

# Absolute imports: the Metaflow shim may load this file again as metaflow.plugins...
from __future__ import annotations

from asyncflow.cards.exceptions import (
    CardNotFoundError,
    CardNotPresentException,
    CardTypeNotFoundError,
)

__all__ = ["CardNotFoundError", "CardNotPresentException", "CardTypeNotFoundError"]
