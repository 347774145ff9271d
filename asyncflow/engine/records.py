"""What flows between tasks inside the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..flowspec import ForeachFrame
from ..store import ArtifactRef

__all__ = ["TaskInput", "TaskResult"]


@dataclass(frozen=True)
class TaskInput:
    """A task to run: its step, the tasks it follows, and its foreach position.

    A join's ``parents`` are a :class:`~asyncflow.engine.parents.JoinParents` (ids, each
    parent read when asked for); use :func:`~asyncflow.engine.parents.parent_ids` for ids.
    """

    step: str
    parents: Sequence[TaskResult]
    frames: tuple[ForeachFrame, ...] = ()
    # keyword-only: two optional ints in a row are too easy to swap by position
    #: The task's id when the scheduler chose it (the tasks of a ``@parallel`` gang).
    task_id: int | None = field(default=None, kw_only=True)
    #: How many times a switch looped back into this step before this task (recursion).
    iteration: int = field(default=0, kw_only=True)


@dataclass(frozen=True, slots=True)  # no __dict__: a foreach's tasks each hold one
class TaskResult:
    """A committed task, as its successors need it."""

    step: str
    task_id: int
    pathspec: str
    artifacts: dict[str, ArtifactRef]
    frames: tuple[ForeachFrame, ...] = ()
    foreach_items: list[Any] | None = field(default=None, repr=False)
    #: The step a switch chose to run next (None when the step is no switch).
    chosen: str | None = None
    iteration: int = 0
