"""Plain records exchanged between the engine, the stores and the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArtifactRef", "AttemptRecord", "CardRecord", "RunRecord", "StepStats", "TaskRecord"]


@dataclass(frozen=True, slots=True)  # no __dict__: a join holds one per input
class ArtifactRef:
    """Where an artifact's bytes are and how to decode them; no value inside.

    ``inline`` values live in the metadata database instead of a blob file;
    ``data`` caches their bytes in memory when already at hand.
    """

    name: str
    key: str
    encoding: str
    size: int
    type: str
    metadata: dict[str, Any]
    inline: bool
    data: bytes | None = field(default=None, compare=False, repr=False)

    def renamed(self, name: str) -> ArtifactRef:
        """The same stored value under another artifact name."""
        return ArtifactRef(
            name,
            self.key,
            self.encoding,
            self.size,
            self.type,
            self.metadata,
            self.inline,
            self.data,
        )


@dataclass
class RunRecord:
    """One run of a flow, as stored."""

    flow: str
    run_id: int
    status: str
    user: str
    tags: list[str]
    system_tags: list[str]
    params: dict[str, Any]
    created_at: float
    finished_at: float | None = None
    origin_run_id: int | None = None
    exception: str | None = None
    failed_pathspec: str | None = None

    @property
    def pathspec(self) -> str:
        """``Flow/run_id``."""
        return f"{self.flow}/{self.run_id}"


@dataclass(slots=True)  # no __dict__: a listing builds one per task
class TaskRecord:
    """One committed task: its place in the graph, its outcome and timings."""

    flow: str
    run_id: int
    step: str
    task_id: int
    status: str
    attempt: int = 0
    started_at: float = 0.0
    finished_at: float | None = None
    foreach_stack: list[dict[str, Any]] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    exception: str | None = None
    #: For a task a resumed run cloned: the id of the task it copies in the origin run.
    origin_task_id: int | None = None
    #: When the attempt that ends the task started (default ``started_at``); committed
    #: into the task's attempts (:class:`AttemptRecord`), not kept in the task's row.
    attempt_started_at: float | None = field(default=None, compare=False)

    @property
    def pathspec(self) -> str:
        """``Flow/run_id/step/task_id``."""
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a task: how it ended and when it started and ended."""

    task_id: int
    attempt: int
    status: str
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class CardRecord:
    """One rendered card of a task: its identity and where its HTML blob is.

    ``hash`` identifies the card within its task (a random hex token chosen when
    the task starts, as Metaflow's card hash is); ``key`` is the content key of
    its HTML in the blob store. ``runtime`` marks an interim render made by
    ``current.card.refresh()`` while the task runs; the final render replaces it.
    """

    flow: str
    run_id: int
    step: str
    task_id: int
    hash: str
    type: str
    id: str | None
    key: str
    size: int
    created_at: float
    runtime: bool = False

    @property
    def task_pathspec(self) -> str:
        """``Flow/run_id/step/task_id`` of the card's task."""
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(frozen=True)
class StepStats:
    """A step of a run as the store sums it up, without reading its tasks one by one:
    how many committed tasks in each status, when the first started and the last
    ended, its first task, whether its tasks are inside a foreach, the steps that
    ran right before it (its tasks' parents' steps)."""

    step: str
    statuses: dict[str, int]
    started_at: float | None
    finished_at: float | None
    first_task_id: int
    foreach: bool
    parent_steps: frozenset[str]

    @property
    def tasks(self) -> int:
        """How many tasks committed."""
        return sum(self.statuses.values())
