"""Small helpers that keep messages grammatical: ``1 byte``, ``2 bytes``, ``an int``."""

from __future__ import annotations

__all__ = ["a_type", "plural"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, made plural unless ``count`` is 1: ``plural(1, "byte")``
    is ``1 byte``, ``plural(3, "match", "matches")`` is ``3 matches``."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def a_type(value: object) -> str:
    """The name of ``value``'s type with its article: ``an int``, ``a list``."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
