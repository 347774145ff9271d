"""The rules every user tag follows, wherever it is given (``run --tag``, ``Run.add_tag``)."""

from __future__ import annotations

from collections.abc import Iterable

from .exceptions import TagError

__all__ = ["MAX_TAG_LENGTH", "valid_tags"]

#: The longest tag accepted, as in Metaflow.
MAX_TAG_LENGTH = 500


def valid_tags(tags: Iterable[str] | str) -> list[str]:
    """``tags`` as a list (one string counts as one tag); :class:`TagError` for an empty
    or overlong tag, or one that is no string (bytes, a number)."""
    one = isinstance(tags, str | bytes) or not isinstance(tags, Iterable)
    tags = [tags] if one else list(tags)  # type: ignore[list-item]
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise TagError(None, str(tag), "a tag must be a non-empty string")
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(None, tag[:20] + "...", f"a tag is at most {MAX_TAG_LENGTH} characters")
    return tags
