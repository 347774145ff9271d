"""Flows, runs and steps: ``Metaflow``, ``Flow``, ``Run``, ``Step``."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from .._gcpause import gc_paused
from ..exceptions import NamespaceMismatchError, NotFoundError, TagError
from ..store import Datastore, RunRecord, StoreLocation, StoreURLs, TaskRecord, resolve_urls
from ..tags import valid_tags
from ._lookup import (
    ClientObject,
    get_datastore,
    has_runs,
    in_thread,
    load_run,
    split_pathspec,
    timestamp,
)
from ._namespaces import get_namespace
from ._tasks import _PARALLEL_VAR, MetaflowData, Task

__all__ = ["Flow", "Metaflow", "Run", "Step"]


class Metaflow:
    """Every flow in the datastore: ``Metaflow().flows``."""

    def __init__(self, *, root: StoreLocation | None = None) -> None:
        self._urls = resolve_urls(root)

    @property
    def flows(self) -> list[Flow]:
        """Every flow that has run here, by name (whatever the namespace)."""
        if not has_runs(self._urls):
            return []
        store = get_datastore(self._urls)
        return [Flow._create(name, store) for name in store.metadata.list_flows()]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(ClientObject):
    """A flow that has run here: ``Flow("ArtifactFlow").latest_run``."""

    def __init__(self, name: str, *, root: StoreLocation | None = None) -> None:
        split_pathspec(name, 1, "flow")
        store = get_datastore(root, ("flow", name))
        if name not in store.metadata.list_flows():
            raise NotFoundError("flow", name)
        self._init(name, store)

    @classmethod
    def _create(cls, name: str, store: Datastore) -> Flow:
        obj = cls.__new__(cls)
        obj._init(name, store)
        return obj

    def _init(self, name: str, store: Datastore) -> None:
        self._store = store
        self.id = self.pathspec = name

    def _urls(self) -> StoreURLs:
        return self._store.urls

    @classmethod
    def _restore(cls, pathspec: str, urls: StoreURLs) -> Flow:
        return cls(pathspec, root=urls)

    #: A flow has no tags of its own (its runs do), as in Metaflow.
    tags: frozenset[str] = frozenset()
    user_tags: frozenset[str] = frozenset()
    system_tags: frozenset[str] = frozenset()

    @property
    def parent(self) -> None:
        """A flow has no parent (Metaflow's ``parent`` of a flow is None)."""
        return None

    def runs(self, *tags: str) -> list[Run]:
        """Runs in the current namespace having every one of ``tags``, newest first."""
        return self._runs(tags)

    def _runs(
        self, tags: Iterable[str] = (), status: str | None = None, limit: int | None = None
    ) -> list[Run]:
        ns = get_namespace()
        wanted = [*tags, *([ns] if ns is not None else [])]
        records = self._store.metadata.list_runs(self.id, tags=wanted, status=status, limit=limit)
        return [Run._from_record(record, self._store) for record in records]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}", root=self._store.urls)

    def __contains__(self, run_id: str) -> bool:
        try:
            self[run_id]
        except (NotFoundError, NamespaceMismatchError):
            return False
        return True

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, finished or not."""
        runs = self._runs(limit=1)
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest successful run in the current namespace."""
        runs = self._runs(status="successful", limit=1)
        return runs[0] if runs else None

    async def aruns(self, *tags: str) -> list[Run]:
        """:meth:`runs`, without blocking the event loop."""
        return await in_thread(functools.partial(self.runs, *tags))

    async def alatest_run(self) -> Run | None:
        """:attr:`latest_run`, without blocking the event loop."""
        return await in_thread(lambda: self.latest_run)

    async def alatest_successful_run(self) -> Run | None:
        """:attr:`latest_successful_run`, without blocking the event loop."""
        return await in_thread(lambda: self.latest_successful_run)


class Run(ClientObject):
    """One run: ``Run("ArtifactFlow/3").data.dataset``.

    A run outside the current namespace raises :class:`NamespaceMismatchError`.
    """

    def __init__(
        self,
        pathspec: str,
        *,
        root: StoreLocation | None = None,
        _namespace_check: bool = True,
    ) -> None:
        split_pathspec(pathspec, 2, "run")
        store = get_datastore(root, ("run", pathspec))
        self._init(load_run(store, pathspec, "run", _namespace_check), store)

    @classmethod
    def _from_record(cls, record: RunRecord, store: Datastore) -> Run:
        run = cls.__new__(cls)
        run._init(record, store)
        return run

    def _init(self, record: RunRecord, store: Datastore) -> None:
        self._record, self._store = record, store
        # Tags as Metaflow's: as read when this object was made, then as each change made
        # through it left them, so add_tag(t) then `t in user_tags` holds however other
        # tasks change the run's tags meanwhile (a fresh Run(...) sees their changes).
        self._user_tags = frozenset(record.tags)
        self.id, self.pathspec = str(record.run_id), record.pathspec

    def _urls(self) -> StoreURLs:
        return self._store.urls

    def _refresh(self) -> RunRecord:
        record = self._store.metadata.get_run(self._record.flow, self._record.run_id)
        assert record is not None
        self._record = record
        return record

    @property
    def parent(self) -> Flow:
        """The flow this run belongs to."""
        return Flow._create(self._record.flow, self._store)

    @property
    def successful(self) -> bool:
        """Whether the run finished successfully."""
        return self._refresh().status == "successful"

    @property
    def finished(self) -> bool:
        """Whether the run has ended, in any way."""
        return self._refresh().status != "running"

    @property
    def crashed(self) -> bool:
        """Whether the run shows as running but the process that ran it is gone.

        With SQLite: its process, on this host, has ended (a run on another host is
        never reported as crashed); with PostgreSQL: its heartbeat has expired.
        """
        record = self._refresh()
        return record.status == "running" and self._store.metadata.run_crashed(record.run_id)

    @property
    def status(self) -> str:
        """running, successful, failed or cancelled."""
        return self._refresh().status

    @property
    def user(self) -> str:
        """Who started the run."""
        return self._record.user

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameters as recorded when it started (JSON-safe)."""
        return dict(self._record.params)

    @property
    def failed_pathspec(self) -> str | None:
        """For a failed run, the pathspec of the task that failed it for good."""
        return self._refresh().failed_pathspec

    @property
    def exception(self) -> str | None:
        """For a failed run, the traceback of the task that failed it."""
        return self._refresh().exception

    @property
    def origin_pathspec(self) -> str | None:
        """For a resumed run, ``Flow/run_id`` of the run it resumed; else None."""
        origin = self._record.origin_run_id
        return f"{self._record.flow}/{origin}" if origin is not None else None

    @property
    def created_at(self) -> datetime:
        """When the run started."""
        return datetime.fromtimestamp(self._record.created_at)

    @property
    def finished_at(self) -> datetime | None:
        """When the run ended, or None while it runs."""
        return timestamp(self._refresh().finished_at)

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags (user tags as :attr:`user_tags` has them)."""
        return self._user_tags | frozenset(self._record.system_tags)

    @property
    def user_tags(self) -> frozenset[str]:
        """Tags a user added: as when this object was made or last changed its tags
        (Metaflow's rule); ``Run(pathspec)`` again sees changes made elsewhere since."""
        return self._user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """Tags asyncflow added (``user:<name>``, ``runtime:asyncflow``, ...)."""
        return frozenset(self._record.system_tags)

    def add_tag(self, tag: str | Iterable[str]) -> None:
        """Add a user tag (seen by every process at once); a list adds each, as
        Metaflow's deprecated form does."""
        self.add_tags(valid_tags(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags in one step; one that is already a system tag is left out."""
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        """Remove a user tag (a list: each); removing a system tag raises :class:`TagError`."""
        self.remove_tags(valid_tags(tag))

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags in one step."""
        self.replace_tags(tags, [])

    def replace_tag(self, old: str | Iterable[str], new: str | Iterable[str]) -> None:
        """Remove ``old`` and add ``new`` in one step (lists: each)."""
        self.replace_tags(valid_tags(old), valid_tags(new))

    def replace_tags(self, remove: Iterable[str], add: Iterable[str]) -> None:
        """Remove then add user tags, atomically: nothing changes if one cannot be removed
        (a system tag). Tags that are system tags already are not added as user tags."""
        remove, add = valid_tags(remove), valid_tags(add)
        if not remove and not add:
            raise TagError(self.pathspec, None, "give at least one tag to remove or add")
        system = set(self._record.system_tags)
        refused = set(remove) & system
        if refused:
            raise TagError(self.pathspec, sorted(refused)[0], "it is a system tag")
        add = [tag for tag in add if tag not in system]
        remove = [tag for tag in remove if tag not in add]  # removed, then added back
        flow, run_id = self._record.flow, self._record.run_id
        self._user_tags = frozenset(self._store.metadata.update_tags(flow, run_id, add, remove))

    def has_tags(self, tags: Iterable[str]) -> bool:
        """Whether the run has every one of ``tags`` (its steps, tasks and artifacts have
        the run's tags, so filtering them by tag keeps all or none)."""
        return frozenset(tags) <= self.tags

    def steps(self, *tags: str) -> list[Step]:
        """Steps that have at least one committed task, in the order they first ran
        (none unless the run has every one of ``tags``)."""
        if tags and not self.has_tags(tags):
            return []
        seen: dict[str, None] = {}
        for task in self._store.metadata.list_tasks(self._record.flow, self._record.run_id):
            seen.setdefault(task.step)
        return [Step._create(self, name) for name in seen]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        step_obj = Step._create(self, step)
        if not step_obj._tasks(limit=1):
            raise NotFoundError("step", f"{self.pathspec}/{step}")
        return step_obj

    def __contains__(self, step: str) -> bool:
        return bool(Step._create(self, step)._tasks(limit=1))

    @property
    def end_task(self) -> Task | None:
        """The task of the end step, once it has committed."""
        return self["end"].task if "end" in self else None

    @property
    def data(self) -> MetaflowData | None:
        """Artifacts of the end task (None until the run reaches its end)."""
        end = self.end_task
        return end.data if end is not None else None

    async def aend_task(self) -> Task | None:
        """:attr:`end_task`, without blocking the event loop."""
        return await in_thread(lambda: self.end_task)

    async def adata(self) -> MetaflowData | None:
        """:attr:`data`, without blocking the event loop."""
        return await in_thread(lambda: self.data)


class Step(ClientObject):
    """One step of a run: ``run["start"].task``."""

    def __init__(
        self,
        pathspec: str,
        *,
        root: StoreLocation | None = None,
        _namespace_check: bool = True,
    ) -> None:
        step = split_pathspec(pathspec, 3, "step")[2]
        store = get_datastore(root, ("step", pathspec))
        record = load_run(store, pathspec, "step", _namespace_check)
        self._init(Run._from_record(record, store), step)
        if not self._tasks(limit=1):
            raise NotFoundError("step", pathspec)

    @classmethod
    def _create(cls, run: Run, name: str) -> Step:
        obj = cls.__new__(cls)
        obj._init(run, name)
        return obj

    def _init(self, run: Run, name: str) -> None:
        self._run, self.id = run, name
        self.pathspec = f"{run.pathspec}/{name}"

    def _urls(self) -> StoreURLs:
        return self._run._store.urls

    def _tasks(self, limit: int | None = None) -> list[TaskRecord]:
        run = self._run._record
        return self._run._store.metadata.list_tasks(run.flow, run.run_id, self.id, limit=limit)

    @property
    def parent(self) -> Run:
        """The run this step belongs to."""
        return self._run

    @property
    def origin_pathspec(self) -> str | None:
        """For a step of a resumed run, ``Flow/origin_run_id/step``; else None."""
        origin = self._run.origin_pathspec
        return f"{origin}/{self.id}" if origin is not None else None

    @property
    def parent_steps(self) -> list[Step]:
        """The steps whose tasks this step's tasks ran after (itself, for a loop)."""
        records = self._run_tasks()
        wanted = {p for r in records if r.step == self.id for p in r.parents}
        return self._steps(r.step for r in records if r.task_id in wanted)

    @property
    def child_steps(self) -> list[Step]:
        """The steps whose tasks ran after this step's tasks (itself, for a loop)."""
        records = self._run_tasks()
        mine = {r.task_id for r in records if r.step == self.id}
        return self._steps(r.step for r in records if mine.intersection(r.parents))

    def _run_tasks(self) -> list[TaskRecord]:
        record = self._run._record
        return self._run._store.metadata.list_tasks(record.flow, record.run_id)

    def _steps(self, names: Iterable[str]) -> list[Step]:
        return [Step._create(self._run, name) for name in dict.fromkeys(names)]

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (user and system)."""
        return self._run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags."""
        return self._run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The run's system tags."""
        return self._run.system_tags

    def tasks(self, *tags: str) -> list[Task]:
        """Every committed task of this step, in task id order (none unless the run has
        every one of ``tags``)."""
        if tags and not self._run.has_tags(tags):
            return []
        with gc_paused():
            return [Task._from_record(r, self._run._store) for r in self._tasks()]

    def control_tasks(self) -> list[Task]:
        """The control task (node 0) of each gang of a ``@parallel`` step; none elsewhere."""
        return [
            Task._from_record(r, self._run._store)
            for r in self._tasks()
            if r.foreach_stack
            and r.foreach_stack[-1].get("var") == _PARALLEL_VAR
            and int(r.foreach_stack[-1]["index"]) == 0
        ]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", root=self._run._store.urls)

    @property
    def task(self) -> Task | None:
        """A task of this step (the only one, outside a foreach)."""
        first = self._tasks(limit=1)
        return Task._from_record(first[0], self._run._store) if first else None

    @property
    def created_at(self) -> datetime | None:
        """When the step's first task started."""
        return timestamp(min((t.started_at for t in self._tasks()), default=None))

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task ended."""
        ends = [t.finished_at for t in self._tasks()]
        done = [end for end in ends if end is not None]
        return timestamp(max(done)) if done and len(done) == len(ends) else None

    async def atasks(self) -> list[Task]:
        """:meth:`tasks`, without blocking the event loop."""
        return await in_thread(self.tasks)
