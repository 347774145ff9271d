"""asyncflow: Metaflow-style flows whose steps are coroutines, run inside one process.

Public names load on first use (see ``_HOMES``): ``from asyncflow import Flow`` pays
for the client and the store, not for the engine, anyio or the serializers' libraries.
A new public name goes in ``__all__``, in ``_HOMES`` and in the ``TYPE_CHECKING`` block.
"""

from __future__ import annotations

import typing

from . import _lazy

# Eager: the submodule has the same name, and importing it would bind the module here.
from .current import current

if typing.TYPE_CHECKING:
    from .cards import card
    from .client import (
        DataArtifact,
        Flow,
        Metaflow,
        MetaflowData,
        Run,
        Step,
        Task,
        default_namespace,
        get_namespace,
        namespace,
    )
    from .config_values import ConfigValue, config_expr
    from .configs import Config
    from .decorators import (
        ExceptionWrapper,
        MetaflowExceptionWrapper,
        catch,
        environment,
        isolated,
        parallel,
        resources,
        retry,
        secrets,
        step,
        timeout,
    )
    from .engine import Engine, RunResult
    from .exceptions import (
        AsyncflowException,
        NamespaceMismatchError,
        NotFoundError,
        StepTimeoutError,
        TagError,
    )
    from .flowspec import FlowSpec
    from .parameters import IncludeFile, JSONType, Parameter
    from .projects import project
    from .runner import Runner, RunStream
    from .store.pickling import allow_pickle, pickle_allowed

__all__ = [
    "AsyncflowException",
    "Config",
    "ConfigValue",
    "DataArtifact",
    "Engine",
    "ExceptionWrapper",
    "Flow",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "MetaflowData",
    "MetaflowExceptionWrapper",
    "NamespaceMismatchError",
    "NotFoundError",
    "Parameter",
    "Run",
    "RunResult",
    "RunStream",
    "Runner",
    "Step",
    "StepTimeoutError",
    "TagError",
    "Task",
    "allow_pickle",
    "card",
    "catch",
    "config_expr",
    "current",
    "default_namespace",
    "environment",
    "get_namespace",
    "isolated",
    "namespace",
    "parallel",
    "pickle_allowed",
    "project",
    "resources",
    "retry",
    "secrets",
    "step",
    "timeout",
]

#: Where each public name lives (a module relative to this package).
_HOMES = {
    "AsyncflowException": ".exceptions",
    "Config": ".configs",
    "ConfigValue": ".config_values",
    "DataArtifact": ".client",
    "Engine": ".engine",
    "ExceptionWrapper": ".decorators",
    "Flow": ".client",
    "FlowSpec": ".flowspec",
    "IncludeFile": ".parameters",
    "JSONType": ".parameters",
    "Metaflow": ".client",
    "MetaflowData": ".client",
    "MetaflowExceptionWrapper": ".decorators",
    "NamespaceMismatchError": ".exceptions",
    "NotFoundError": ".exceptions",
    "Parameter": ".parameters",
    "Run": ".client",
    "RunResult": ".engine",
    "RunStream": ".runner",
    "Runner": ".runner",
    "Step": ".client",
    "StepTimeoutError": ".exceptions",
    "TagError": ".exceptions",
    "Task": ".client",
    "allow_pickle": ".store.pickling",
    "card": ".cards",
    "catch": ".decorators",
    "config_expr": ".config_values",
    "default_namespace": ".client",
    "environment": ".decorators",
    "get_namespace": ".client",
    "isolated": ".decorators",
    "namespace": ".client",
    "parallel": ".decorators",
    "pickle_allowed": ".store.pickling",
    "project": ".projects",
    "resources": ".decorators",
    "retry": ".decorators",
    "secrets": ".decorators",
    "step": ".decorators",
    "timeout": ".decorators",
}

if not typing.TYPE_CHECKING:  # mypy reads the imports above, and flags unknown names
    __getattr__, __dir__ = _lazy.exports(__name__, _HOMES, globals())
