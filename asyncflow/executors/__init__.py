"""Executors: where a task's attempt runs when not in the engine's own process.

The engine keeps the flow graph, ``--max-workers``, retries, timeouts, ``@catch``,
cancellation, resume and events; an executor only runs one :class:`TaskSpec` and
returns an :class:`AttemptOutcome`. The default (no executor) runs every task in
the engine's process, as before. See :func:`open_executor` for the names.
"""

from __future__ import annotations

from .base import Executor
from .choose import open_executor
from .spec import AttemptOutcome, CodeRef, TaskSpec

__all__ = ["AttemptOutcome", "CodeRef", "Executor", "TaskSpec", "open_executor"]
