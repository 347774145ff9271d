"""asyncflow: Metaflow-style flows whose steps are coroutines, run inside one process."""

from __future__ import annotations

from .client import DataArtifact, Flow, MetaflowData, Run, Step, Task
from .current import current
from .decorators import step
from .engine import Engine, RunResult
from .exceptions import AsyncflowException, NotFoundError
from .flowspec import FlowSpec

__all__ = [
    "AsyncflowException",
    "DataArtifact",
    "Engine",
    "Flow",
    "FlowSpec",
    "MetaflowData",
    "NotFoundError",
    "Run",
    "RunResult",
    "Step",
    "Task",
    "current",
    "step",
]
