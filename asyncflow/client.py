"""The client API: read flows, runs, steps, tasks and artifacts from any process.

Listing reads metadata only; an artifact's value is decoded on first access
and kept by the object that loaded it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .exceptions import NotFoundError
from .store import ArtifactRef, Datastore, RunRecord, TaskRecord, resolve_root

_stores: dict[Path, Datastore] = {}
_stores_lock = threading.Lock()


def get_datastore(root: str | os.PathLike[str] | None = None) -> Datastore:
    """The shared client-side datastore for ``root`` (see :func:`resolve_root`)."""
    path = resolve_root(root)
    with _stores_lock:
        if path not in _stores:
            if not (path / "metadata.db").exists():
                raise NotFoundError("datastore", str(path), hint="; no flow has run here yet")
            _stores[path] = Datastore(path)
        return _stores[path]


def _split(pathspec: str, parts: int, kind: str) -> list[str]:
    pieces = pathspec.split("/")
    if len(pieces) != parts or not all(pieces):
        raise NotFoundError(kind, pathspec, hint=f"; expected {parts} parts separated by '/'")
    return pieces


def _run_id(pathspec: str, text: str, kind: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NotFoundError(kind, pathspec) from None


class Flow:
    """A flow that has run here: ``Flow("ArtifactFlow").latest_run``."""

    def __init__(self, name: str, *, root: str | os.PathLike[str] | None = None) -> None:
        self._store = get_datastore(root)
        if name not in self._store.metadata.list_flows():
            raise NotFoundError("flow", name)
        self.id = self.pathspec = name

    def runs(self, *tags: str) -> list[Run]:
        """Runs of this flow, newest first, having all ``tags``."""
        wanted = set(tags)
        return [
            Run._from_record(record, self._store)
            for record in self._store.metadata.list_runs(self.id)
            if wanted <= set(record.tags) | set(record.system_tags)
        ]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}", root=self._store.root)

    @property
    def latest_run(self) -> Run | None:
        """The newest run, finished or not."""
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run that succeeded."""
        return next((r for r in self.runs() if r.successful), None)

    def __repr__(self) -> str:
        return f"Flow('{self.pathspec}')"


class Run:
    """One run: ``Run("ArtifactFlow/3").data.dataset``."""

    def __init__(self, pathspec: str, *, root: str | os.PathLike[str] | None = None) -> None:
        flow, run_id = _split(pathspec, 2, "run")
        store = get_datastore(root)
        record = store.metadata.get_run(flow, _run_id(pathspec, run_id, "run"))
        if record is None:
            raise NotFoundError("run", pathspec)
        self._init(record, store)

    @classmethod
    def _from_record(cls, record: RunRecord, store: Datastore) -> Run:
        run = cls.__new__(cls)
        run._init(record, store)
        return run

    def _init(self, record: RunRecord, store: Datastore) -> None:
        self._record, self._store = record, store
        self.id, self.pathspec = str(record.run_id), record.pathspec

    def _refresh(self) -> RunRecord:
        record = self._store.metadata.get_run(self._record.flow, self._record.run_id)
        assert record is not None
        self._record = record
        return record

    @property
    def successful(self) -> bool:
        """Whether the run finished successfully."""
        return self._refresh().status == "successful"

    @property
    def finished(self) -> bool:
        """Whether the run has ended, in any way."""
        return self._refresh().status != "running"

    @property
    def status(self) -> str:
        """running, successful, failed or cancelled."""
        return self._refresh().status

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
        ts = self._refresh().finished_at
        return datetime.fromtimestamp(ts) if ts is not None else None

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags."""
        record = self._refresh()
        return frozenset(record.tags) | frozenset(record.system_tags)

    @property
    def user_tags(self) -> frozenset[str]:
        """Tags a user added."""
        return frozenset(self._refresh().tags)

    @property
    def system_tags(self) -> frozenset[str]:
        """Tags asyncflow added."""
        return frozenset(self._record.system_tags)

    def steps(self) -> list[Step]:
        """Steps that have at least one committed task, in the order they first ran."""
        seen: dict[str, None] = {}
        for task in self._store.metadata.list_tasks(self._record.flow, self._record.run_id):
            seen.setdefault(task.step)
        return [Step._create(self, name) for name in seen]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        step_obj = Step._create(self, step)
        if not step_obj._tasks():
            raise NotFoundError("step", f"{self.pathspec}/{step}")
        return step_obj

    def __contains__(self, step: str) -> bool:
        return bool(Step._create(self, step)._tasks())

    @property
    def end_task(self) -> Task | None:
        """The task of the end step, once it has committed."""
        return self["end"].task if "end" in self else None

    @property
    def data(self) -> MetaflowData | None:
        """Artifacts of the end task (None until the run reaches its end)."""
        end = self.end_task
        return end.data if end is not None else None

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


class Step:
    """One step of a run: ``run["start"].task``."""

    def __init__(self, pathspec: str, *, root: str | os.PathLike[str] | None = None) -> None:
        flow, run_id, step = _split(pathspec, 3, "step")
        run = Run(f"{flow}/{run_id}", root=root)
        self._init(run, step)
        if not self._tasks():
            raise NotFoundError("step", pathspec)

    @classmethod
    def _create(cls, run: Run, name: str) -> Step:
        obj = cls.__new__(cls)
        obj._init(run, name)
        return obj

    def _init(self, run: Run, name: str) -> None:
        self._run, self.id = run, name
        self.pathspec = f"{run.pathspec}/{name}"

    def _tasks(self) -> list[TaskRecord]:
        record = self._run._record
        return self._run._store.metadata.list_tasks(record.flow, record.run_id, self.id)

    def tasks(self) -> list[Task]:
        """Every committed task of this step, in task id order."""
        return [Task._from_record(r, self._run._store) for r in self._tasks()]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", root=self._run._store.root)

    @property
    def task(self) -> Task | None:
        """A task of this step (the only one, outside a foreach)."""
        tasks = self.tasks()
        return tasks[0] if tasks else None

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class Task:
    """One task: ``task.data.x``, ``task["x"].encoding``.

    ``attempt`` picks which attempt's ``stdout``/``stderr`` to show (default: the last).
    """

    def __init__(
        self,
        pathspec: str,
        *,
        attempt: int | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        flow, run_id, step, task_id = _split(pathspec, 4, "task")
        store = get_datastore(root)
        record = None
        if task_id.isdigit():
            record = store.metadata.get_task(
                flow, _run_id(pathspec, run_id, "task"), step, int(task_id)
            )
        if record is None:
            raise NotFoundError("task", pathspec)
        if attempt is not None and not 0 <= attempt <= record.attempt:
            raise NotFoundError("attempt", f"{pathspec} attempt {attempt}")
        self._init(record, store, attempt)

    @classmethod
    def _from_record(cls, record: TaskRecord, store: Datastore) -> Task:
        obj = cls.__new__(cls)
        obj._init(record, store)
        return obj

    def _init(self, record: TaskRecord, store: Datastore, attempt: int | None = None) -> None:
        self._record, self._store = record, store
        self.id, self.pathspec = str(record.task_id), record.pathspec
        self._artifacts: dict[str, DataArtifact] | None = None
        self._attempt = attempt

    def _artifact_map(self) -> dict[str, DataArtifact]:
        if self._artifacts is None:
            refs = self._store.metadata.list_artifacts(
                self._record.flow, self._record.run_id, self._record.task_id
            )
            self._artifacts = {ref.name: DataArtifact._create(self, ref) for ref in refs}
        return self._artifacts

    @property
    def artifacts(self) -> list[DataArtifact]:
        """Every artifact of the task (metadata only until ``.data`` is read)."""
        return list(self._artifact_map().values())

    def __getitem__(self, name: str) -> DataArtifact:
        try:
            return self._artifact_map()[name]
        except KeyError:
            raise NotFoundError("artifact", f"{self.pathspec}/{name}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._artifact_map()

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    @property
    def data(self) -> MetaflowData:
        """Artifact values by attribute: ``task.data.x``."""
        return MetaflowData(self)

    @property
    def successful(self) -> bool:
        """Whether the task succeeded."""
        return self._record.status == "successful"

    @property
    def finished(self) -> bool:
        """Whether the task has ended."""
        return self._record.finished_at is not None

    @property
    def exception(self) -> str | None:
        """The traceback of a failed task."""
        return self._record.exception

    @property
    def index(self) -> int | None:
        """The task's index in its innermost foreach, or None."""
        stack = self._record.foreach_stack
        return int(stack[-1]["index"]) if stack else None

    @property
    def current_attempt(self) -> int:
        """The attempt that ended the task: 0 unless ``@retry`` or ``@catch`` ran it again."""
        return self._record.attempt

    @property
    def stdout(self) -> str:
        """What the task printed to stdout (in the chosen attempt, default the last)."""
        r = self._record
        return self._store.metadata.get_logs(r.flow, r.run_id, r.task_id, "stdout", self._attempt)

    @property
    def stderr(self) -> str:
        """What the task printed to stderr; a failed attempt's ends with its traceback."""
        r = self._record
        return self._store.metadata.get_logs(r.flow, r.run_id, r.task_id, "stderr", self._attempt)

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"


class DataArtifact:
    """One artifact: its value (``.data``, decoded once) and how it is stored."""

    _UNSET: Any = object()
    _task: Task
    _ref: ArtifactRef
    _value: Any
    id: str
    pathspec: str

    @classmethod
    def _create(cls, task: Task, ref: ArtifactRef) -> DataArtifact:
        obj = cls.__new__(cls)
        obj._task, obj._ref, obj._value = task, ref, cls._UNSET
        obj.id, obj.pathspec = ref.name, f"{task.pathspec}/{ref.name}"
        return obj

    @property
    def data(self) -> Any:
        """The value, decoded on first access."""
        if self._value is self._UNSET:
            self._value = self._task._store.load(self._ref, pathspec=self._task.pathspec)
        return self._value

    @property
    def sha(self) -> str:
        """The content hash (BLAKE3) of the stored bytes."""
        return self._ref.key

    @property
    def size(self) -> int:
        """Stored size in bytes."""
        return self._ref.size

    @property
    def encoding(self) -> str:
        """The serializer encoding that wrote it, e.g. ``msgpack/1``."""
        return self._ref.encoding

    @property
    def type(self) -> str:
        """The value's type, ``module.qualname``."""
        return self._ref.type

    @property
    def metadata(self) -> dict[str, Any]:
        """What the serializer recorded: schema, rows, shape, dtype, size..."""
        return dict(self._ref.metadata)

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class MetaflowData:
    """Attribute access to a task's artifact values: ``data.dataset``."""

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        task: Task = self._task
        if name not in task:
            raise AttributeError(f"task {task.pathspec} has no artifact '{name}'")
        return task[name].data

    def __contains__(self, name: str) -> bool:
        return name in self._task

    def __dir__(self) -> list[str]:
        return sorted(a.id for a in self._task.artifacts)

    def __repr__(self) -> str:
        return f"<MetaflowData: {', '.join(self.__dir__())}>"
