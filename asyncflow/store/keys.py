"""Blob keys: what a key looks like, checked before any key reaches a path or a request.

A key is the lowercase hex BLAKE3 digest of a blob (64 characters). Keys come
from the metadata, which a hostile or damaged store controls: a key such as
``../../etc/passwd`` must never become a path. Every backend checks keys with
:func:`check_key` at its door.
"""

from __future__ import annotations

import re

from ..exceptions import DatastoreError

__all__ = ["KEY_LENGTH", "check_key", "is_key"]

#: Hex characters of a BLAKE3-256 digest.
KEY_LENGTH = 64

_KEY = re.compile(f"[0-9a-f]{{{KEY_LENGTH}}}")


def is_key(text: str) -> bool:
    """Whether ``text`` is a well-formed blob key."""
    return isinstance(text, str) and _KEY.fullmatch(text) is not None


def check_key(key: str, where: str | None = None) -> str:
    """``key`` itself if well-formed; else a :class:`DatastoreError` naming it (and ``where``)."""
    if not is_key(key):
        of = f" of artifact '{where}'" if where else ""
        raise DatastoreError(
            f"invalid blob key{of}: {key!r} is not {KEY_LENGTH} lowercase hex characters "
            "(the store's metadata is damaged or was written by someone else)"
        )
    return key
