"""Live runs: what the engine's event stream says about runs of this process.

Pass a :class:`LiveRuns` to the engine as a listener (``Runner.async_run(
on_event=live)`` or ``Engine(listeners=[live])``) and to ``create_app(live=live)``:
run pages then update from the events, and show the tasks that are running,
which the store only learns about when they commit. Runs of other processes
are followed by polling the metadata store.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..events import (
    Event,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskStarted,
)

__all__ = ["LiveRuns", "RunningTask"]


@dataclass
class RunningTask:
    """A task that started and has not committed: when, and which attempt runs."""

    pathspec: str
    step: str
    started: float
    attempt: int = 0


@dataclass
class _RunState:
    version: int = 0
    finished: bool = False
    running: dict[str, RunningTask] = field(default_factory=dict)


class LiveRuns:
    """An engine listener that keeps, per run, its running tasks and a change counter.

    Thread-safe: the engine calls it from worker threads too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _RunState] = {}

    def __call__(self, event: Event) -> None:
        run = "/".join(event.pathspec.split("/")[:2])
        with self._lock:
            state = self._runs.setdefault(run, _RunState())
            if self._apply(state, event):
                state.version += 1

    @staticmethod
    def _apply(state: _RunState, event: Event) -> bool:
        if isinstance(event, TaskStarted):
            step = event.pathspec.split("/")[2]
            state.running[event.pathspec] = RunningTask(event.pathspec, step, time.time())
        elif isinstance(event, TaskRetrying) and event.pathspec in state.running:
            state.running[event.pathspec].attempt = event.attempt
        elif isinstance(event, TaskFinished | TaskFailed):
            state.running.pop(event.pathspec, None)
        elif isinstance(event, RunFinished):
            state.finished = True
            state.running.clear()
        else:
            return isinstance(event, RunStarted)
        return True

    def follows(self, run_pathspec: str) -> bool:
        """Whether events of this run reached this listener."""
        with self._lock:
            return run_pathspec in self._runs

    def version(self, run_pathspec: str) -> tuple[int, bool]:
        """How many changes the run has seen, and whether it finished."""
        with self._lock:
            state = self._runs.get(run_pathspec)
            return (state.version, state.finished) if state else (0, False)

    def running(self, run_pathspec: str) -> list[RunningTask]:
        """The run's tasks that started and have not ended, oldest first."""
        with self._lock:
            state = self._runs.get(run_pathspec)
            return sorted(state.running.values(), key=lambda t: t.started) if state else []
