"""``metaflow.plugins.cards.exception``: the card errors Metaflow code catches."""

from __future__ import annotations

from ...cards.exceptions import CardNotFoundError, CardNotPresentException, CardTypeNotFoundError

__all__ = ["CardNotFoundError", "CardNotPresentException", "CardTypeNotFoundError"]
