"""Typed events that the engine emits while a run progresses.

A listener is any callable taking one event; it may be called from worker
threads (``TaskOutput``, ``ArtifactStored``), so it must be thread-safe and
quick. :func:`to_loop` turns a plain callback into a listener that is only ever
called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import anyio.lowlevel

if TYPE_CHECKING:
    import trio

__all__ = [
    "ArtifactStored",
    "Event",
    "EventCallback",
    "Listener",
    "RunContinued",
    "RunFinished",
    "RunStarted",
    "TaskCloned",
    "TaskFailed",
    "TaskFinished",
    "TaskOutput",
    "TaskRetrying",
    "TaskStarted",
    "to_loop",
]


@dataclass(frozen=True)
class RunStarted:
    """A run was created."""

    pathspec: str


@dataclass(frozen=True)
class RunContinued(RunStarted):
    """A run whose process died is driven again, in place, by a new engine process (a
    ``RunStarted`` too: what waits for a run to start sees this one)."""


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
EventCallback = Callable[[Event], None]


def to_loop(callback: EventCallback) -> Listener:
    """A listener that calls ``callback`` on the current event loop's thread, in order.

    Call it on the loop. Events from worker threads are queued and handed over
    without making the worker wait; an event emitted on the loop first delivers
    everything queued before it, so ``callback`` sees events in the order they
    happened. Events after the loop has stopped are dropped.
    """
    return _LoopHandoff(callback)


class _LoopHandoff:
    def __init__(self, callback: EventCallback) -> None:
        self._callback = callback
        self._loop_thread = threading.get_ident()
        self._call_soon = _call_soon_threadsafe()
        self._lock = threading.Lock()
        self._pending: deque[Event] = deque()
        self._scheduled = False
        self._error: Exception | None = None

    def __call__(self, event: Event) -> None:
        on_loop = threading.get_ident() == self._loop_thread
        with self._lock:
            self._pending.append(event)
            schedule = not on_loop and not self._scheduled
            self._scheduled = self._scheduled or schedule
        if on_loop:
            if self._error is not None:  # raised earlier, by a handed-over delivery
                error, self._error = self._error, None
                raise error
            self._drain()
        elif schedule:
            # RuntimeError: the loop is gone, and nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                self._call_soon(self._drain_soon)

    def _drain_soon(self) -> None:
        # Runs as a bare loop callback, where an exception would kill the loop
        # (trio): keep it for the next event emitted on the loop, the engine's.
        try:
            self._drain()
        except Exception as exc:
            self._error = self._error or exc

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        while True:
            with self._lock:
                if not self._pending:
                    return
                event = self._pending.popleft()
            self._callback(event)


def _call_soon_threadsafe() -> Callable[[Callable[[], None]], object]:
    """How another thread schedules a callback on the current loop, without waiting."""
    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return native.call_soon_threadsafe
    return cast("trio.lowlevel.TrioToken", native).run_sync_soon
