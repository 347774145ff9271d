"""Metaflow's exception names, as ``metaflow.exception`` spells them.

Code that raises or catches them ports by its import line alone:
``from asyncflow.exception import MetaflowNotFound``. A name is asyncflow's own
exception for the same condition where asyncflow has one (``MetaflowException`` is
the base of every asyncflow error, ``merge_artifacts`` raises
``MissingInMergeArtifactsException``, the client ``MetaflowNotFound``); the others are
Metaflow's classes with Metaflow's constructors and headlines, which asyncflow never
raises itself and keeps for flows that raise or catch them.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from .decorators import MetaflowExceptionWrapper
from .exceptions import AsyncflowException as MetaflowException
from .exceptions import InvalidTransitionError as InvalidNextException
from .exceptions import MissingInMergeArtifactsError as MissingInMergeArtifactsException
from .exceptions import NamespaceMismatchError as MetaflowNamespaceMismatch
from .exceptions import NotFoundError as MetaflowNotFound
from .exceptions import PathspecError as MetaflowInvalidPathspec
from .exceptions import TagError as MetaflowTaggingError
from .exceptions import UnhandledInMergeArtifactsError as UnhandledInMergeArtifactsException

__all__ = [
    "METAFLOW_EXIT_ALLOW_RETRY",
    "METAFLOW_EXIT_DISALLOW_RETRY",
    "CommandException",
    "ExternalCommandFailed",
    "InvalidDecoratorAttribute",
    "InvalidNextException",
    "MetaflowDataMissing",
    "MetaflowException",
    "MetaflowExceptionWrapper",
    "MetaflowInternalError",
    "MetaflowInvalidPathspec",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MetaflowTaggingError",
    "MetaflowUnknownUser",
    "MissingInMergeArtifactsException",
    "ParameterFieldFailed",
    "ParameterFieldTypeMismatch",
    "UnhandledInMergeArtifactsException",
]

#: Metaflow's exit statuses for a task process: not to be retried, to be retried.
METAFLOW_EXIT_DISALLOW_RETRY = 202
METAFLOW_EXIT_ALLOW_RETRY = 203


class ExternalCommandFailed(MetaflowException):
    """A command a step ran from outside Python failed (Metaflow's name; flows raise it)."""

    headline = "External command failed"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)


class ParameterFieldFailed(MetaflowException):
    """Evaluating a field of a Parameter raised; the message holds the traceback."""

    headline = "Parameter field failed"

    def __init__(self, name: str, field: str) -> None:
        super().__init__(
            f"When evaluating the field *{field}* for the Parameter *{name}*, "
            f"the following exception occurred:\n\n{traceback.format_exc()}"
        )


class ParameterFieldTypeMismatch(MetaflowException):
    """A field of a Parameter has the wrong type."""

    headline = "Parameter field with a mismatching type"


class MetaflowInternalError(MetaflowException):
    """Something that should not happen did (Metaflow's name)."""

    headline = "Internal error"


class MetaflowUnknownUser(MetaflowException):
    """No user name could be found in the environment."""

    headline = "Unknown user"

    def __init__(self) -> None:
        super().__init__(
            "Metaflow could not determine your user name based on environment variables "
            "($USERNAME etc.)"
        )


class InvalidDecoratorAttribute(MetaflowException):
    """A decorator was given an attribute it does not take."""

    headline = "Unknown decorator attribute"

    def __init__(self, deconame: str, attr: str, defaults: Iterable[str]) -> None:
        super().__init__(
            f"Decorator '{deconame}' does not support the attribute '{attr}'. "
            f"These attributes are supported: {', '.join(defaults)}."
        )


class CommandException(MetaflowException):
    """A command line that cannot be run as given."""

    headline = "Invalid command"


class MetaflowDataMissing(MetaflowException):
    """Data a run should hold is not in the datastore."""

    headline = "Data missing"
