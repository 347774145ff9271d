"""Metaflow's exception names, as ``metaflow.exception`` spells them.

Code that raises or catches them ports by its import line alone:
``from asyncflow.exception import MetaflowNotFound``. Each name is asyncflow's own
exception for the same condition, except :class:`ExternalCommandFailed`, which
asyncflow never raises itself and keeps for flows that do.
"""

from __future__ import annotations

from .decorators import MetaflowExceptionWrapper
from .exceptions import AsyncflowException as MetaflowException
from .exceptions import InvalidTransitionError as InvalidNextException
from .exceptions import MissingInMergeArtifactsError as MissingInMergeArtifactsException
from .exceptions import NamespaceMismatchError as MetaflowNamespaceMismatch
from .exceptions import NotFoundError as MetaflowNotFound
from .exceptions import TagError as MetaflowTaggingError
from .exceptions import UnhandledInMergeArtifactsError as UnhandledInMergeArtifactsException

__all__ = [
    "ExternalCommandFailed",
    "InvalidNextException",
    "MetaflowException",
    "MetaflowExceptionWrapper",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MetaflowTaggingError",
    "MissingInMergeArtifactsException",
    "UnhandledInMergeArtifactsException",
]


class ExternalCommandFailed(MetaflowException):
    """A command a step ran from outside Python failed (Metaflow's name; flows raise it)."""

    headline = "External command failed"
