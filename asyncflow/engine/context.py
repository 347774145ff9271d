"""State shared by the tasks of one run."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..events import Event, Listener
from ..flowspec import FlowSpec
from ..graph import FlowGraph
from ..logs import resume_capture, suspend_capture
from ..store import ArtifactRef, Datastore, RunRecord
from .commits import GroupCommit

if TYPE_CHECKING:
    from .remote import RunExecutors
    from .resume import ResumePlan

__all__ = ["RunContext"]


@dataclass
class RunContext:
    """One run in progress: its flow, graph, store, limits and listeners."""

    flow_cls: type[FlowSpec]
    graph: FlowGraph
    datastore: Datastore
    record: RunRecord
    listeners: list[Listener]
    thread_limiter: anyio.CapacityLimiter
    task_limiter: anyio.CapacityLimiter
    max_num_splits: int = 100
    namespace: str | None = None
    param_refs: dict[str, ArtifactRef] = field(default_factory=dict)
    #: How the engine waits between retries; tests pass a fake clock.
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    #: For a resumed run: which tasks of the origin run are reused.
    resume: ResumePlan | None = None
    #: Where tasks run when not in this process (``None``: every task runs here).
    executors: RunExecutors | None = None
    #: On a worker: commit only the attempt the engine fenced (see ``fence_attempt``).
    fenced: bool = False
    #: The run's configs by name and attribute, read back on first use (engine/environ.py).
    configs: dict[str, Any] | None = None
    #: On a worker: a traceback's paths as the flow was launched (not the code package's).
    as_launched: Callable[[str], str] = str
    _task_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: Finished tasks commit in groups (see engine/commits.py).
    commits: GroupCommit = field(default_factory=GroupCommit)
    #: What ``current`` reports for every task of the run (engine/task.py: run_facts).
    facts: tuple[tuple[int, int], tuple[Any, ...]] | None = None
    #: What each step's decorators ask of its attempts, by step (engine/attempts.py).
    step_policies: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The run id as a string, as pathspecs show it."""
        return str(self.record.run_id)

    @property
    def flow_name(self) -> str:
        """The flow's name."""
        return self.record.flow

    def task_pathspec(self, step: str, task_id: int) -> str:
        """``Flow/run_id/step/task_id`` of a task of this run."""
        return f"{self.flow_name}/{self.run_id}/{step}/{task_id}"

    def next_task_id(self) -> int:
        """A task id unique within the run."""
        return next(self._task_ids)

    def ids_after(self, last: int) -> None:
        """Give new tasks ids above ``last`` (a run continued after its process died)."""
        self._task_ids = itertools.count(last + 1)

    def emit(self, event: Event) -> None:
        """Send ``event`` to every listener.

        Listeners run outside the task's output capture: what they print goes to
        the real streams, not into the task's logs (nor back into the events).
        """
        token = suspend_capture()
        try:
            for listener in self.listeners:
                listener(event)
        finally:
            resume_capture(token)
