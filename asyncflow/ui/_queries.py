"""What the pages show, read from a datastore through its metadata protocol.

Every function here blocks on the store: the app calls them in a worker thread.
Nothing loads every task of every run: the flows page reads runs only, a run
page reads that run's tasks (one query), a task page one task.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ..client import Run
from ..exceptions import NotFoundError
from ..store import ArtifactRef, Datastore, RunRecord, TaskRecord

__all__ = [
    "RUNS_PER_PAGE",
    "FlowSummary",
    "RunDetail",
    "RunFilters",
    "RunView",
    "StepSummary",
    "TaskDetail",
    "find_artifact",
    "flow_summaries",
    "get_run",
    "get_task",
    "run_detail",
    "runs_page",
    "step_tasks",
    "summarize_steps",
    "task_detail",
    "view",
]

RUNS_PER_PAGE = 50


@dataclass(frozen=True)
class RunView:
    """A run as listed: its record and the status to show (``crashed`` included)."""

    record: RunRecord
    status: str

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (to now while it runs), or None if it crashed."""
        if self.record.finished_at is not None:
            return self.record.finished_at - self.record.created_at
        return time.time() - self.record.created_at if self.status == "running" else None


@dataclass(frozen=True)
class FlowSummary:
    """One line of the flows page."""

    name: str
    runs: int
    latest: RunView | None


@dataclass(frozen=True)
class RunFilters:
    """What the runs page asks for; every field optional."""

    status: str | None = None
    tag: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def store_tags(self) -> list[str]:
        """The tags the store filters on (a user is the system tag ``user:<name>``)."""
        return [t for t in (self.tag, f"user:{self.user}" if self.user else None) if t]


@dataclass
class StepSummary:
    """A step of a run: how many tasks in which status, when, and what ran before it."""

    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    parents: set[str] = field(default_factory=set)
    started: float | None = None
    finished: float | None = None
    foreach: bool = False

    @property
    def tasks(self) -> int:
        """How many tasks committed."""
        return sum(self.statuses.values())

    @property
    def status(self) -> str:
        """failed if any task failed, else successful (only committed tasks are known)."""
        return "failed" if self.statuses["failed"] else "successful"


@dataclass(frozen=True)
class RunDetail:
    """A run page's data: the run, its steps in the order they first ran, its tasks."""

    run: RunView
    steps: list[StepSummary]
    tasks: list[TaskRecord]


@dataclass(frozen=True)
class TaskDetail:
    """A task page's data: the task, each attempt's output, its artifacts."""

    task: TaskRecord
    logs: list[tuple[int, str, str]]  # (attempt, stdout, stderr)
    artifacts: list[ArtifactRef]


def view(store: Datastore, record: RunRecord) -> RunView:
    """The run with the status to show: a running run whose process is gone is crashed."""
    if record.status == "running" and Run._from_record(record, store).crashed:
        return RunView(record, "crashed")
    return RunView(record, record.status)


def flow_summaries(store: Datastore) -> list[FlowSummary]:
    """Every flow with its number of runs and its latest run."""
    summaries = []
    for name in store.metadata.list_flows():
        runs = store.metadata.list_runs(name)
        latest = view(store, runs[0]) if runs else None
        summaries.append(FlowSummary(name, len(runs), latest))
    return summaries


def runs_page(
    store: Datastore, flow: str, filters: RunFilters, page: int, size: int = RUNS_PER_PAGE
) -> tuple[list[RunView], bool]:
    """Page ``page`` (from 0) of the runs matching ``filters``, newest first, and
    whether there is a next page. Tags and status are filtered by the store."""
    if flow not in store.metadata.list_flows():
        raise NotFoundError("flow", flow)
    status = "running" if filters.status == "crashed" else filters.status
    timed = filters.since is not None or filters.until is not None
    wanted = None if timed or filters.status == "crashed" else (page + 1) * size + 1
    records = store.metadata.list_runs(flow, tags=filters.store_tags, status=status, limit=wanted)
    records = [r for r in records if _in_time(r, filters)]
    chosen = records[page * size : (page + 1) * size + 1]
    if filters.status == "crashed":
        views = [v for v in (view(store, r) for r in records) if v.status == "crashed"]
        chosen_views = views[page * size : (page + 1) * size + 1]
    else:
        chosen_views = [view(store, r) for r in chosen]
    return chosen_views[:size], len(chosen_views) > size


def _in_time(record: RunRecord, filters: RunFilters) -> bool:
    if filters.since is not None and record.created_at < filters.since.timestamp():
        return False
    return filters.until is None or record.created_at <= filters.until.timestamp()


def get_run(store: Datastore, flow: str, run_id: str) -> RunRecord:
    """The run ``flow/run_id``, or :class:`NotFoundError` naming what is missing."""
    if flow not in store.metadata.list_flows():
        raise NotFoundError("flow", flow)
    record = store.metadata.get_run(flow, int(run_id)) if run_id.isdigit() else None
    if record is None:
        raise NotFoundError("run", f"{flow}/{run_id}")
    return record


def run_detail(store: Datastore, flow: str, run_id: str) -> RunDetail:
    """The run, its step summaries and its tasks (the one query that reads them all)."""
    record = get_run(store, flow, run_id)
    tasks = store.metadata.list_tasks(flow, record.run_id)
    return RunDetail(view(store, record), summarize_steps(tasks), tasks)


def summarize_steps(tasks: list[TaskRecord]) -> list[StepSummary]:
    """Steps in the order they first ran, with counts, times and parent steps."""
    steps: dict[str, StepSummary] = {}
    step_of = {t.task_id: t.step for t in tasks}
    for task in tasks:
        summary = steps.setdefault(task.step, StepSummary(task.step))
        summary.statuses[task.status] += 1
        summary.parents.update(step_of[p] for p in task.parents if p in step_of)
        summary.foreach = summary.foreach or bool(task.foreach_stack)
        summary.started = min(summary.started or task.started_at, task.started_at)
        if task.finished_at is not None:
            summary.finished = max(summary.finished or task.finished_at, task.finished_at)
    return list(steps.values())


def step_tasks(store: Datastore, flow: str, run_id: str, step: str) -> list[TaskRecord]:
    """The committed tasks of one step, in task id order."""
    record = get_run(store, flow, run_id)
    tasks = store.metadata.list_tasks(flow, record.run_id, step)
    if not tasks:
        raise NotFoundError("step", f"{flow}/{run_id}/{step}")
    return tasks


def get_task(store: Datastore, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
    """One task, or :class:`NotFoundError` naming the first part that is missing."""
    record = get_run(store, flow, run_id)
    task = (
        store.metadata.get_task(flow, record.run_id, step, int(task_id))
        if task_id.isdigit()
        else None
    )
    if task is None:
        raise NotFoundError("task", f"{flow}/{run_id}/{step}/{task_id}")
    return task


def task_detail(store: Datastore, flow: str, run_id: str, step: str, task_id: str) -> TaskDetail:
    """The task, the stdout and stderr of each of its attempts, its artifact records."""
    task = get_task(store, flow, run_id, step, task_id)
    meta = store.metadata
    logs = [
        (
            attempt,
            meta.get_logs(flow, task.run_id, task.task_id, "stdout", attempt),
            meta.get_logs(flow, task.run_id, task.task_id, "stderr", attempt),
        )
        for attempt in range(task.attempt + 1)
    ]
    return TaskDetail(task, logs, meta.list_artifacts(flow, task.run_id, task.task_id))


def find_artifact(
    store: Datastore, flow: str, run_id: str, step: str, task_id: str, name: str
) -> tuple[TaskRecord, ArtifactRef]:
    """The task and the record of its artifact ``name``."""
    task = get_task(store, flow, run_id, step, task_id)
    for ref in store.metadata.list_artifacts(flow, task.run_id, task.task_id):
        if ref.name == name:
            return task, ref
    raise NotFoundError("artifact", f"{task.pathspec}/{name}")
