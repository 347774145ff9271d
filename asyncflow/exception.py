"""Metaflow's exception names, as ``metaflow.exception`` spells them.

Code that catches them ports by its import line alone:
``from asyncflow.exception import MetaflowNotFound``.
"""

from __future__ import annotations

from .decorators import MetaflowExceptionWrapper
from .exceptions import AsyncflowException as MetaflowException
from .exceptions import NamespaceMismatchError as MetaflowNamespaceMismatch
from .exceptions import NotFoundError as MetaflowNotFound

__all__ = [
    "MetaflowException",
    "MetaflowExceptionWrapper",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
]
