"""``current``: facts about the running task, correct inside concurrent tasks.

Each task sets a context variable, so two tasks running at once on the loop
(or in worker threads, which copy the context) each see their own values.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .client import Run, Task
    from .projects import ProjectInfo
    from .store import StoreURLs, TaskRecord

__all__ = [
    "Current", "Parallel", "TaskContext", "current", "enter_run", "enter_task", "leave_run",
    "leave_task", "running_record",
]  # fmt: skip


class Parallel(NamedTuple):
    """``current.parallel`` in a ``@parallel`` step: the gang and this task's place in it."""

    main_ip: str
    num_nodes: int
    node_index: int
    control_task_id: str


@dataclass(frozen=True)
class TaskContext:
    """What ``current`` reports while a task runs."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int = 0
    origin_run_id: str | None = None
    namespace: str | None = None
    username: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)
    parameter_names: tuple[str, ...] = ()
    project: ProjectInfo | None = None
    parallel: Parallel | None = None
    #: Where the run is stored, and the task's record as it stands while it runs (what
    #: the client shows for it before it commits, as Metaflow registers a task at start).
    store: StoreURLs | None = None
    record: TaskRecord | None = None


_context: ContextVar[TaskContext | None] = ContextVar("asyncflow_current", default=None)
#: The project of the run being started, before any task runs (Parameter defaults read it).
_run_project: ContextVar[ProjectInfo | None] = ContextVar("asyncflow_project", default=None)


def enter_run(project: ProjectInfo | None) -> Token[ProjectInfo | None]:
    """Make ``project`` what ``current`` reports outside tasks, in this context."""
    return _run_project.set(project)


def leave_run(token: Token[ProjectInfo | None]) -> None:
    """Undo :func:`enter_run`."""
    _run_project.reset(token)


def running_record(urls: StoreURLs, pathspec: str) -> TaskRecord | None:
    """The record of the task running in this context if it is ``pathspec`` of the store
    at ``urls`` (None otherwise): a running task has committed no record yet."""
    ctx = _context.get()
    if ctx is None or ctx.record is None or ctx.store != urls:
        return None
    return ctx.record if ctx.record.pathspec == pathspec else None


def enter_task(ctx: TaskContext) -> Token[TaskContext | None]:
    """Make ``ctx`` current for this task's context; returns the token to reset it."""
    return _context.set(ctx)


def leave_task(token: Token[TaskContext | None]) -> None:
    """Undo :func:`enter_task`."""
    _context.reset(token)


class Current:
    """Read-only view of the running task (Metaflow's ``current``)."""

    @property
    def is_running_flow(self) -> bool:
        """Whether the caller runs inside a task."""
        return _context.get() is not None

    def _get(self, name: str) -> Any:
        ctx = _context.get()
        return None if ctx is None else getattr(ctx, name)

    @property
    def flow_name(self) -> str | None:
        """Name of the running flow."""
        return self._get("flow_name")  # type: ignore[no-any-return]

    @property
    def run_id(self) -> str | None:
        """Id of the running run."""
        return self._get("run_id")  # type: ignore[no-any-return]

    @property
    def step_name(self) -> str | None:
        """Name of the running step."""
        return self._get("step_name")  # type: ignore[no-any-return]

    @property
    def task_id(self) -> str | None:
        """Id of the running task."""
        return self._get("task_id")  # type: ignore[no-any-return]

    @property
    def retry_count(self) -> int:
        """How many times this task has been retried (0 on the first attempt)."""
        return int(self._get("retry_count") or 0)

    @property
    def origin_run_id(self) -> str | None:
        """For a resumed run, the run it resumed."""
        return self._get("origin_run_id")  # type: ignore[no-any-return]

    @property
    def namespace(self) -> str | None:
        """The namespace the run is in."""
        return self._get("namespace")  # type: ignore[no-any-return]

    @property
    def username(self) -> str | None:
        """Who started the run."""
        return self._get("username")  # type: ignore[no-any-return]

    @property
    def tags(self) -> set[str]:
        """The run's user tags (``--tag``), as Metaflow's: system tags are left out."""
        return set(self._get("tags") or ())

    @property
    def task(self) -> Task | None:
        """The running task as a client :class:`~asyncflow.Task` (None outside a task);
        whatever the namespace, as in Metaflow."""
        from .client import Task

        ctx = _context.get()
        if ctx is None:
            return None
        return Task(self.pathspec or "", root=ctx.store, _namespace_check=False)

    @property
    def run(self) -> Run | None:
        """The running run as a client :class:`~asyncflow.Run` (None outside a task)."""
        from .client import Run

        ctx = _context.get()
        if ctx is None:
            return None
        return Run(f"{ctx.flow_name}/{ctx.run_id}", root=ctx.store, _namespace_check=False)

    @property
    def parameter_names(self) -> list[str]:
        """The names of the flow's parameters."""
        return list(self._get("parameter_names") or ())

    def _project(self) -> ProjectInfo | None:
        ctx = _context.get()
        return ctx.project if ctx is not None else _run_project.get()

    @property
    def project_name(self) -> str | None:
        """The ``@project`` name of the flow (None without ``@project``)."""
        info = self._project()
        return info.project_name if info else None

    @property
    def branch_name(self) -> str | None:
        """The run's project branch: ``user.<name>``, ``test.<branch>``, ``prod``..."""
        info = self._project()
        return info.branch_name if info else None

    @property
    def project_flow_name(self) -> str | None:
        """``<project>.<branch>.<Flow>``."""
        info = self._project()
        return info.project_flow_name if info else None

    @property
    def is_user_branch(self) -> bool:
        """Whether the run is on its user's own project branch."""
        info = self._project()
        return info.is_user_branch if info else False

    @property
    def is_production(self) -> bool:
        """Whether the run is on the project's production branch (``--production``)."""
        info = self._project()
        return info.is_production if info else False

    @property
    def parallel(self) -> Parallel:
        """The gang of a ``@parallel`` step: ``num_nodes``, ``node_index`` (0 is the control
        task), ``main_ip`` (this machine: every node runs in this process), ``control_task_id``.

        Only in a ``@parallel`` step; elsewhere it raises AttributeError, as in Metaflow.
        """
        ctx = _context.get()
        if ctx is None or ctx.parallel is None:
            raise AttributeError("current.parallel exists only while a @parallel step runs")
        return ctx.parallel

    @property
    def card(self) -> Any:
        """The running step's cards (``current.card.append(...)``): see ``asyncflow.cards``.

        Only in a step with ``@card``; elsewhere it raises AttributeError, as in Metaflow.
        """
        from .cards.collector import active_collector

        collector = active_collector()
        if collector is None:
            raise AttributeError("current.card exists only while a step decorated with @card runs")
        return collector

    @property
    def pathspec(self) -> str | None:
        """``Flow/run_id/step/task_id`` of the running task."""
        ctx = _context.get()
        if ctx is None:
            return None
        return f"{ctx.flow_name}/{ctx.run_id}/{ctx.step_name}/{ctx.task_id}"


current = Current()
