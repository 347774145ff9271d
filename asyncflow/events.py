"""Typed events that the engine emits while a run progresses.

A listener is any callable taking one event; it may be called from worker
threads (``TaskOutput``), so it must be thread-safe and quick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunStarted:
    """A run was created."""

    pathspec: str


@dataclass(frozen=True)
class RunFinished:
    """A run ended: ``status`` is successful, failed or cancelled."""

    pathspec: str
    status: str


@dataclass(frozen=True)
class TaskStarted:
    """A task began running.

    ``foreach`` is ``(index, num_splits)`` for each foreach the task is inside,
    outermost first; empty outside a foreach.
    """

    pathspec: str
    foreach: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class TaskFinished:
    """A task committed successfully."""

    pathspec: str


@dataclass(frozen=True)
class TaskFailed:
    """A task failed; ``traceback`` is the user's traceback text."""

    pathspec: str
    exception: str
    traceback: str


@dataclass(frozen=True)
class TaskRetrying:
    """An attempt failed and ``@retry`` runs the task again (``attempt`` counts from 0)."""

    pathspec: str
    attempt: int
    exception: str
    traceback: str
    wait_seconds: float


@dataclass(frozen=True)
class TaskCloned:
    """A resumed run reused a successful task of its origin run instead of running it."""

    pathspec: str
    origin_pathspec: str


@dataclass(frozen=True)
class TaskOutput:
    """A line a task printed; ``stream`` is stdout or stderr."""

    pathspec: str
    stream: str
    line: str


@dataclass(frozen=True)
class ArtifactStored:
    """A task persisted an artifact."""

    pathspec: str
    name: str
    size: int
    encoding: str


Event = (
    RunStarted
    | RunFinished
    | TaskStarted
    | TaskFinished
    | TaskFailed
    | TaskRetrying
    | TaskCloned
    | TaskOutput
    | ArtifactStored
)
Listener = Callable[[Event], None]
