"""Errors of cards: a card that is not there, a card type nobody registered."""

from __future__ import annotations

from ..exceptions import AsyncflowException, NotFoundError

__all__ = ["CardNotFoundError", "CardNotPresentException", "CardTypeNotFoundError"]


class CardNotFoundError(NotFoundError):
    """No card of the task matches the query (type, id, hash); Metaflow's
    ``CardNotPresentException``."""

    headline = "Card not found"

    def __init__(
        self,
        pathspec: str,
        type: str | None = None,
        id: str | None = None,
        hash: str | None = None,
    ) -> None:
        self.kind, self.pathspec = "card", pathspec
        self.type, self.id, self.hash = type, id, hash
        wanted = [f"{k} '{v}'" for k, v in (("type", type), ("id", id), ("hash", hash)) if v]
        which = f" with {', '.join(wanted)}" if wanted else ""
        AsyncflowException.__init__(self, f"task '{pathspec}' has no card{which}")


#: The name Metaflow code catches.
CardNotPresentException = CardNotFoundError


class CardTypeNotFoundError(AsyncflowException):
    """``@card(type=...)`` names a card type that is neither built in nor registered."""

    headline = "Unknown card type"

    def __init__(self, type: str, known: list[str]) -> None:
        self.type, self.known = type, known
        super().__init__(
            f"no card type '{type}'; known types: {', '.join(known)} "
            "(register more with asyncflow.cards.register_card_type, the "
            "'asyncflow.cards' entry-point group or a Metaflow card package)"
        )
