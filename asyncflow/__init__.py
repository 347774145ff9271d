"""asyncflow: Metaflow-style flows whose steps are coroutines, run inside one process."""

from __future__ import annotations

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
from .current import current
from .decorators import (
    ExceptionWrapper,
    MetaflowExceptionWrapper,
    catch,
    resources,
    retry,
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
from .runner import Runner, RunStream
from .store.pickling import allow_pickle, pickle_allowed

__all__ = [
    "AsyncflowException",
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
    "catch",
    "current",
    "default_namespace",
    "get_namespace",
    "namespace",
    "pickle_allowed",
    "resources",
    "retry",
    "step",
    "timeout",
]
