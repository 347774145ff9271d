"""What the pages show, read from a datastore through its metadata protocol.

Every function here blocks on the store: the app calls them in a worker thread.
Nothing loads every task of a run or every run of a flow: the store counts,
sums up steps and pages runs and tasks (``LIMIT``/``OFFSET``), so a page reads
about as many rows as it shows.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..exceptions import NotFoundError
from ..store import ArtifactRef, AttemptRecord, Datastore, RunRecord, StepStats, TaskRecord

__all__ = [
    "RUNS_PER_PAGE",
    "TASKS_PER_PAGE",
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
    "planned_steps",
    "run_detail",
    "runs_page",
    "step_tasks",
    "task_detail",
    "view",
]

RUNS_PER_PAGE = 50
#: Tasks per page of a step's list and of a run's task timeline.
TASKS_PER_PAGE = 200


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
    #: A namespace as Metaflow's ``namespace()`` takes it: a tag, user or system
    #: (``user:ann``, ``project:p``, ``project_branch:user.ann``).
    namespace: str | None = None

    @property
    def store_tags(self) -> list[str]:
        """The tags the store filters on (a user is the system tag ``user:<name>``)."""
        user = f"user:{self.user}" if self.user else None
        return [t for t in (self.tag, user, self.namespace) if t]


@dataclass
class StepSummary:
    """A step of a run: how many tasks in which status, when, and what ran before it."""

    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    parents: set[str] = field(default_factory=set)
    started: float | None = None
    finished: float | None = None
    foreach: bool = False
    kind: str = ""

    @classmethod
    def of(cls, stats: StepStats) -> StepSummary:
        """The summary of a step as the store summed it up."""
        return cls(
            stats.step, Counter(stats.statuses), set(stats.parent_steps), stats.started_at,
            stats.finished_at, stats.foreach,
        )  # fmt: skip

    @property
    def tasks(self) -> int:
        """How many tasks committed."""
        return sum(self.statuses.values())

    @property
    def status(self) -> str:
        """failed if any task failed, successful if some committed, else pending (only
        committed tasks are known)."""
        if not self.tasks:
            return "pending"
        return "failed" if self.statuses["failed"] else "successful"


@dataclass(frozen=True)
class RunDetail:
    """A run page's data: the run, its steps (from its recorded graph, not-yet-run
    steps included, else in the order they first ran), how many tasks committed, one
    page of them (from task ``offset``) and their attempts by task id."""

    run: RunView
    steps: list[StepSummary]
    task_count: int
    tasks: list[TaskRecord]
    offset: int = 0
    attempts: dict[int, list[AttemptRecord]] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDetail:
    """A task page's data: the task, each attempt's output, its artifacts, the
    attempts' times when recorded."""

    task: TaskRecord
    logs: list[tuple[int, str, str]]  # (attempt, stdout, stderr)
    artifacts: list[ArtifactRef]
    attempts: dict[int, AttemptRecord] = field(default_factory=dict)


def view(store: Datastore, record: RunRecord) -> RunView:
    """The run with the status to show: a running run whose process is gone is crashed."""
    if record.status == "running" and store.metadata.run_crashed(record.run_id):
        return RunView(record, "crashed")
    return RunView(record, record.status)


def flow_summaries(store: Datastore) -> list[FlowSummary]:
    """Every flow with its number of runs and its latest run (two small queries each)."""
    summaries = []
    for name in store.metadata.list_flows():
        latest = store.metadata.list_runs(name, limit=1)
        runs = store.metadata.count_runs(name)
        summaries.append(FlowSummary(name, runs, view(store, latest[0]) if latest else None))
    return summaries


def runs_page(
    store: Datastore, flow: str, filters: RunFilters, page: int, size: int = RUNS_PER_PAGE
) -> tuple[list[RunView], bool]:
    """Page ``page`` (from 0) of the runs matching ``filters``, newest first, and
    whether there is a next page. The store filters and pages; only crashed runs
    are told apart here, among the runs still marked running."""
    if flow not in store.metadata.list_flows():
        raise NotFoundError("flow", flow)
    since = filters.since.timestamp() if filters.since else None
    until = filters.until.timestamp() if filters.until else None
    if filters.status == "crashed":
        running = store.metadata.list_runs(
            flow, tags=filters.store_tags, status="running", since=since, until=until
        )
        crashed = [v for v in (view(store, r) for r in running) if v.status == "crashed"]
        chosen = crashed[page * size : (page + 1) * size + 1]
    else:
        records = store.metadata.list_runs(
            flow, tags=filters.store_tags, status=filters.status, limit=size + 1,
            offset=page * size, since=since, until=until,
        )  # fmt: skip
        chosen = [view(store, r) for r in records]
    return chosen[:size], len(chosen) > size


def get_run(store: Datastore, flow: str, run_id: str) -> RunRecord:
    """The run ``flow/run_id``, or :class:`NotFoundError` naming what is missing."""
    if flow not in store.metadata.list_flows():
        raise NotFoundError("flow", flow)
    record = store.metadata.get_run(flow, int(run_id)) if run_id.isdigit() else None
    if record is None:
        raise NotFoundError("run", f"{flow}/{run_id}")
    return record


def run_detail(
    store: Datastore, flow: str, run_id: str, page: int = 0, size: int = TASKS_PER_PAGE
) -> RunDetail:
    """The run, its steps as the store sums them up, and page ``page`` of its tasks."""
    record = get_run(store, flow, run_id)
    meta = store.metadata
    ran = [StepSummary.of(s) for s in meta.step_stats(flow, record.run_id)]
    steps = planned_steps(meta.get_run_graph(record.run_id), ran)
    tasks = meta.list_tasks(flow, record.run_id, limit=size, offset=page * size)
    attempts: dict[int, list[AttemptRecord]] = {}
    for attempt in meta.list_attempts(record.run_id, [t.task_id for t in tasks]):
        attempts.setdefault(attempt.task_id, []).append(attempt)
    count = sum(s.tasks for s in ran)
    return RunDetail(view(store, record), steps, count, tasks, page * size, attempts)


def planned_steps(graph: dict[str, Any] | None, ran: list[StepSummary]) -> list[StepSummary]:
    """Every step of the recorded ``graph`` in its order, with what ran (``ran``), the
    steps that have not run as pending; edges from the graph and from what ran. A
    malformed graph (the store is not trusted) is ignored where it is malformed."""
    nodes = graph.get("steps") if isinstance(graph, dict) else None
    if not isinstance(nodes, list):
        return ran
    named = [n for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), str)]
    parents: dict[str, set[str]] = {}
    for node in named:
        following = node.get("next")
        for out in following if isinstance(following, list) else []:
            parents.setdefault(str(out), set()).add(node["name"])
    by_name = {s.name: s for s in ran}
    steps: list[StepSummary] = []
    for node in named:
        if node["name"] in {s.name for s in steps}:
            continue
        summary = by_name.pop(node["name"], None) or StepSummary(node["name"])
        summary.kind = str(node.get("kind") or "")
        summary.parents |= parents.get(summary.name, set())
        steps.append(summary)
    return steps + list(by_name.values())


def step_tasks(
    store: Datastore, flow: str, run_id: str, step: str, page: int, size: int = TASKS_PER_PAGE
) -> tuple[list[TaskRecord], int]:
    """Page ``page`` of the committed tasks of one step, in task id order, and how
    many tasks the step has."""
    record = get_run(store, flow, run_id)
    count = store.metadata.count_tasks(flow, record.run_id, step)
    if not count:
        raise NotFoundError("step", f"{flow}/{run_id}/{step}")
    tasks = store.metadata.list_tasks(flow, record.run_id, step, limit=size, offset=page * size)
    return tasks, count


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
    attempts = {a.attempt: a for a in meta.list_attempts(task.run_id, [task.task_id])}
    return TaskDetail(task, logs, meta.list_artifacts(flow, task.run_id, task.task_id), attempts)


def find_artifact(
    store: Datastore, flow: str, run_id: str, step: str, task_id: str, name: str
) -> tuple[TaskRecord, ArtifactRef]:
    """The task and the record of its artifact ``name``."""
    task = get_task(store, flow, run_id, step, task_id)
    for ref in store.metadata.list_artifacts(flow, task.run_id, task.task_id):
        if ref.name == name:
            return task, ref
    raise NotFoundError("artifact", f"{task.pathspec}/{name}")
