"""asyncflow: Metaflow-style flows whose steps are coroutines, run inside one process."""

from __future__ import annotations

from .client import DataArtifact, Flow, MetaflowData, Run, Step, Task
from .current import current
from .decorators import ExceptionWrapper, MetaflowExceptionWrapper, catch, retry, step, timeout
from .engine import Engine, RunResult
from .exceptions import AsyncflowException, NotFoundError, StepTimeoutError
from .flowspec import FlowSpec
from .parameters import IncludeFile, JSONType, Parameter
from .runner import Runner, RunStream

__all__ = [
    "AsyncflowException",
    "DataArtifact",
    "Engine",
    "ExceptionWrapper",
    "Flow",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "MetaflowData",
    "MetaflowExceptionWrapper",
    "NotFoundError",
    "Parameter",
    "Run",
    "RunResult",
    "RunStream",
    "Runner",
    "Step",
    "StepTimeoutError",
    "Task",
    "catch",
    "current",
    "retry",
    "step",
    "timeout",
]
