"""What the engine sends an executor (a task spec) and what comes back (an outcome).

Both are small: pathspecs, artifact references and the flow's code reference go
out; status, references, the foreach items and, for a failure, the error come
back. Artifact values never travel: the worker reads and writes the stores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cloudpickle

from ..events import Event
from ..exceptions import RemoteTaskError
from ..graph import StepNode
from ..store import ArtifactRef, RunRecord
from ..store.metadata import ROW_VALUE_MAX

if TYPE_CHECKING:
    from ..engine.records import TaskInput

__all__ = ["AttemptOutcome", "CodeRef", "TaskSpec", "spec_input", "without_data"]


@dataclass(frozen=True)
class CodeRef:
    """A flow's code package in the blob store: its key, and how to find the class in it.

    ``module`` empty: the blob is the class itself, pickled by value (a notebook's flow).
    """

    key: str
    module: str
    qualname: str
    #: The packaged directory where the flow was launched, for tracebacks.
    origin: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """One attempt of one task, as a worker needs it."""

    #: Where the worker opens the stores: ``Datastore.open(datastore, metadata=metadata)``.
    datastore: str
    metadata: str
    code: CodeRef
    run: RunRecord
    namespace: str | None
    param_refs: dict[str, ArtifactRef]
    #: The step, without its function (the worker takes it from the code package).
    node: StepNode
    task_id: int
    attempt: int
    started: float
    inp: TaskInput
    max_num_splits: int = 100

    @property
    def pathspec(self) -> str:
        """``Flow/run_id/step/task_id``."""
        return f"{self.run.flow}/{self.run.run_id}/{self.node.name}/{self.task_id}"

    @property
    def input_pathspecs(self) -> list[str]:
        """The pathspecs of the tasks this one follows."""
        from ..engine.parents import JoinParents

        if isinstance(self.inp.parents, JoinParents):
            return self.inp.parents.pathspecs()  # without reading their artifacts
        return [p.pathspec for p in self.inp.parents]


@dataclass
class AttemptOutcome:
    """How one attempt ended on a worker.

    On success ``artifacts`` are the task's committed references, ``foreach_items``
    its fan-out and ``chosen`` the case a switch took. On failure ``error`` is the
    pickled exception (or a :class:`RemoteTaskError` naming it), ``traceback`` its text
    and ``logs`` what it printed. ``events`` are the attempt's output and artifact events, when the
    executor could not deliver them live.
    """

    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    foreach_items: list[Any] | None = None
    #: The step a switch chose.
    chosen: str | None = None
    error: bytes | None = None
    traceback: str = ""
    logs: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def failed(
        cls, exc: BaseException, formatted: str, logs: dict[str, str], events: list[Event]
    ) -> AttemptOutcome:
        """The outcome of a failed attempt; the exception is kept if it can be pickled."""
        try:
            blob = cloudpickle.dumps(exc)
            cloudpickle.loads(blob)
        except Exception:
            blob = cloudpickle.dumps(RemoteTaskError(type(exc).__qualname__, str(exc)))
        return cls(error=blob, traceback=formatted, logs=logs, events=events)

    def exception(self) -> Exception:
        """The attempt's exception, rebuilt on this side."""
        assert self.error is not None
        exc = cloudpickle.loads(self.error)
        return exc if isinstance(exc, Exception) else RemoteTaskError(type(exc).__name__, str(exc))


def without_data(refs: dict[str, ArtifactRef]) -> dict[str, ArtifactRef]:
    """References without their cached inline bytes (a reader gets them from the store),
    but for the small ones: the store keeps those in each row that has the artifact (see
    store/metadata.py, ``ROW_VALUE_MAX``), so a task that inherits one commits its bytes."""
    return {
        name: ref if ref.data is None or len(ref.data) <= ROW_VALUE_MAX
        else dataclasses.replace(ref, data=None)
        for name, ref in refs.items()
    }  # fmt: skip


def spec_input(inp: TaskInput) -> TaskInput:
    """``inp`` with its parents' references stripped of inline bytes (and a foreach
    parent's list of items), to send to a worker; every other field of a parent goes.

    A join's parents go as they are, ids and items (the worker reads their artifacts).
    """
    from ..engine.parents import JoinParents

    if isinstance(inp.parents, JoinParents):
        return inp
    # A foreach's items stay here: each child has its own in its frames, and the whole
    # list would go to every child.
    parents = tuple(
        dataclasses.replace(p, artifacts=without_data(p.artifacts), foreach_items=None)
        for p in inp.parents
    )
    return dataclasses.replace(inp, parents=parents)
