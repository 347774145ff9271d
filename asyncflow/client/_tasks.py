"""Tasks and their artifacts: ``Task``, ``DataArtifact``, ``MetaflowData``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..current import running_record
from ..exceptions import NotFoundError
from ..store import ArtifactRef, AttemptRecord, Datastore, StoreLocation, StoreURLs, TaskRecord
from ..store.ranged import CHUNKS_FIELD
from ._lookup import (
    ClientObject,
    get_datastore,
    in_thread,
    int_id,
    load_run,
    split_pathspec,
    timestamp,
)

#: The foreach variable of a ``@parallel`` gang (asyncflow.flowspec.PARALLEL_VAR, which
#: the client does not import: it would bring in the flow machinery).
_PARALLEL_VAR = "_parallel_ubf_iter"

if TYPE_CHECKING:
    from ..decorators import ExceptionWrapper
    from ._runs import Step

__all__ = ["Artifacts", "Attempt", "DataArtifact", "Metadata", "MetaflowData", "Task"]


class Metadata(NamedTuple):
    """One metadata entry of a task, as Metaflow's client gives it (``task.metadata``)."""

    name: str
    value: str
    created_at: int
    type: str
    task: Task


@dataclass(frozen=True)
class Attempt:
    """One attempt of a task: its number (from 0), how it ended, when it ran."""

    number: int
    status: str
    started_at: datetime
    finished_at: datetime | None


class Task(ClientObject):
    """One task: ``task.data.x``, ``task["x"].encoding``.

    ``attempt`` picks which attempt's ``stdout``/``stderr`` to show (default: the last).
    """

    def __init__(
        self,
        pathspec: str,
        *,
        attempt: int | None = None,
        root: StoreLocation | None = None,
        _namespace_check: bool = True,
    ) -> None:
        flow, run_id, step, task_id = split_pathspec(pathspec, 4, "task")
        store = get_datastore(root, ("task", pathspec))
        load_run(store, pathspec, "task", _namespace_check)
        record = store.metadata.get_task(flow, int(run_id), step, int_id(pathspec, task_id, "task"))
        if record is None:  # the task asking for itself, before it commits
            record = running_record(store.urls, pathspec)
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

    def _urls(self) -> StoreURLs:
        return self._store.urls

    def _artifact_map(self) -> dict[str, DataArtifact]:
        if self._artifacts is None:
            refs = self._store.metadata.list_artifacts(
                self._record.flow, self._record.run_id, self._record.task_id
            )
            self._artifacts = {ref.name: DataArtifact._create(self, ref) for ref in refs}
        return self._artifacts

    @property
    def artifacts(self) -> Artifacts:
        """Every artifact of the task (metadata only until ``.data`` is read).

        A list that also answers by name, as Metaflow's does: ``task.artifacts.x.data``.
        """
        return Artifacts(self._artifact_map().values())

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
    def created_at(self) -> datetime:
        """When the task started."""
        return datetime.fromtimestamp(self._record.started_at)

    @property
    def finished_at(self) -> datetime | None:
        """When the task ended."""
        return timestamp(self._record.finished_at)

    @property
    def exception(self) -> ExceptionWrapper | None:
        """What failed the task, as Metaflow gives it: an exception object with ``.type``
        (``module.ClassName``), ``.exception`` (the message) and ``.stacktrace`` (the
        traceback text, also its ``str()``); None for a task that did not fail."""
        from ..decorators import ExceptionWrapper  # the decorators cost a reader ~10% of its start

        text = self._record.exception
        return ExceptionWrapper.from_traceback(text) if text is not None else None

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (user and system): a task's never diverge from its run's."""
        return self.parent.parent.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags."""
        return self.parent.parent.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The run's system tags."""
        return self.parent.parent.system_tags

    @property
    def parent(self) -> Step:
        """The step this task belongs to."""
        from ._runs import Run, Step

        record = self._store.metadata.get_run(self._record.flow, self._record.run_id)
        assert record is not None  # a task's run is never deleted before it
        return Step._create(Run._from_record(record, self._store), self._record.step)

    @property
    def origin_pathspec(self) -> str | None:
        """For a task a resumed run cloned, the pathspec of the task it copies; else None."""
        origin = self._record.origin_task_id
        if origin is None:
            return None
        run = self._store.metadata.get_run(self._record.flow, self._record.run_id)
        assert run is not None and run.origin_run_id is not None
        return f"{run.flow}/{run.origin_run_id}/{self._record.step}/{origin}"

    @property
    def metadata(self) -> list[Metadata]:
        """The task's metadata entries, Metaflow's names: ``attempt`` (one per attempt),
        ``attempt_ok``, ``python_version``, in a resumed run ``origin-run-id`` (every
        task) and ``origin-task-id`` (a cloned task), and ``internal_task_type``
        (``control_task``) for the control task of a ``@parallel`` gang."""
        r = self._record
        run = self._store.metadata.get_run(r.flow, r.run_id)
        assert run is not None
        started, ended = int(r.started_at * 1000), int((r.finished_at or r.started_at) * 1000)
        entries = [("attempt", str(a.attempt), int(a.started_at * 1000), "attempt")
                   for a in self._attempt_records()]  # fmt: skip
        if r.finished_at is not None:
            entries.append(("attempt_ok", str(self.successful), ended, "internal_attempt_status"))
        version = next((t.split(":", 1)[1] for t in run.system_tags
                        if t.startswith("python_version:")), None)  # fmt: skip
        if version is not None:
            entries.append(("python_version", version, started, "python_version"))
        if run.origin_run_id is not None:
            entries.append(("origin-run-id", str(run.origin_run_id), started, "origin-run-id"))
        if r.origin_task_id is not None:
            entries.append(("origin-task-id", str(r.origin_task_id), started, "origin-task-id"))
        stack = r.foreach_stack
        if stack and stack[-1].get("var") == _PARALLEL_VAR and int(stack[-1]["index"]) == 0:
            entries.append(("internal_task_type", "control_task", started, "internal_task_type"))
        return [Metadata(name, value, at, kind, self) for name, value, at, kind in entries]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The newest value of each metadata entry, by name."""
        return {m.name: m.value for m in sorted(self.metadata, key=lambda m: m.created_at)}

    def loglines(self, stream: str, as_unicode: bool = True) -> Iterator[tuple[datetime, Any]]:
        """``(time, line)`` for each line the task wrote to ``stream`` (stdout or stderr).

        asyncflow keeps no time per line: every line carries the time the task ended.
        """
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        when = self.finished_at or self.created_at
        for line in getattr(self, stream).splitlines():
            yield when, line if as_unicode else line.encode()

    @property
    def index(self) -> int | None:
        """The task's index in its innermost foreach, or None."""
        stack = self._record.foreach_stack
        return int(stack[-1]["index"]) if stack else None

    @property
    def foreach_stack(self) -> list[dict[str, Any]]:
        """The foreach frames the task runs in, outermost first (step, var, index, num_splits)."""
        return [dict(frame) for frame in self._record.foreach_stack]

    @property
    def current_attempt(self) -> int:
        """The attempt that ended the task: 0 unless ``@retry`` or ``@catch`` ran it again."""
        return self._record.attempt

    @property
    def attempts(self) -> list[Attempt]:
        """Every attempt of the task, first to last, with its times (``@retry``'s failed
        attempts included). A task stored before asyncflow kept attempt times shows one
        attempt spanning the task."""
        return [
            Attempt(a.attempt, a.status, datetime.fromtimestamp(a.started_at),
                    timestamp(a.finished_at))
            for a in self._attempt_records()
        ]  # fmt: skip

    def _attempt_records(self) -> list[AttemptRecord]:
        r = self._record
        stored = self._store.metadata.list_attempts(r.run_id, [r.task_id])
        if stored:
            return stored
        return [AttemptRecord(r.task_id, r.attempt, r.status, r.started_at, r.finished_at)]

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

    def _run_tasks(self) -> list[TaskRecord]:
        return self._store.metadata.list_tasks(self._record.flow, self._record.run_id)

    @property
    def parent_task_pathspecs(self) -> list[str]:
        """The pathspecs of :attr:`parent_tasks`."""
        return [task.pathspec for task in self.parent_tasks]

    @property
    def child_task_pathspecs(self) -> list[str]:
        """The pathspecs of :attr:`child_tasks`."""
        return [task.pathspec for task in self.child_tasks]

    @property
    def parent_tasks(self) -> list[Task]:
        """The tasks this one ran after (several for a join), in task id order."""
        parents = set(self._record.parents)
        return [
            Task._from_record(r, self._store) for r in self._run_tasks() if r.task_id in parents
        ]

    @property
    def child_tasks(self) -> list[Task]:
        """The committed tasks that ran after this one, in task id order."""
        me = self._record.task_id
        return [Task._from_record(r, self._store) for r in self._run_tasks() if me in r.parents]

    async def aartifacts(self) -> list[DataArtifact]:
        """:attr:`artifacts`, without blocking the event loop."""
        return await in_thread(lambda: self.artifacts)


class DataArtifact(ClientObject):
    """One artifact: its value (``.data``, decoded once) and how it is stored."""

    _UNSET: Any = object()

    def __init__(
        self,
        pathspec: str,
        *,
        root: StoreLocation | None = None,
        _namespace_check: bool = True,
    ) -> None:
        flow, run_id, step, task_id, name = split_pathspec(pathspec, 5, "artifact")
        task = Task(
            f"{flow}/{run_id}/{step}/{task_id}", root=root, _namespace_check=_namespace_check
        )
        self._setup(task, task[name]._ref)

    @classmethod
    def _create(cls, task: Task, ref: ArtifactRef) -> DataArtifact:
        obj = cls.__new__(cls)
        obj._setup(task, ref)
        return obj

    def _setup(self, task: Task, ref: ArtifactRef) -> None:
        self._task, self._ref, self._value = task, ref, self._UNSET
        self._lock = threading.Lock()
        self.id, self.pathspec = ref.name, f"{task.pathspec}/{ref.name}"

    def _urls(self) -> StoreURLs:
        return self._task._store.urls

    _task: Task
    _ref: ArtifactRef
    _value: Any
    _lock: threading.Lock

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (user and system)."""
        return self._task.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags."""
        return self._task.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The run's system tags."""
        return self._task.system_tags

    @property
    def data(self) -> Any:
        """The value, decoded on first access (once per object, even from many threads).

        A missing or corrupted blob raises :class:`CorruptedBlobError` naming this
        artifact's pathspec; a large value is a read-only zero-copy view of its file.
        """
        with self._lock:
            if self._value is self._UNSET:
                self._value = self._task._store.load(self._ref, pathspec=self._task.pathspec)
            return self._value

    async def aload(self) -> Any:
        """:attr:`data`, decoded in a worker thread so the event loop stays free."""
        if self._value is not self._UNSET:
            return self._value
        return await in_thread(lambda: self.data)

    def read_columns(self, *columns: str) -> Any:
        """Only these columns of a stored table or data frame (the value's kind). From an
        object store this fetches only their bytes, each verified; ``data`` loads it all."""
        return self._task._store.read_columns(self._ref, columns, pathspec=self._task.pathspec)

    def read_rows(self, start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop`` of a stored NumPy array, fetching only their bytes
        from an object store (each verified)."""
        return self._task._store.read_rows(self._ref, start, stop, pathspec=self._task.pathspec)

    @property
    def sha(self) -> str:
        """The content hash (BLAKE3, hex) of the stored bytes."""
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
    def created_at(self) -> datetime:
        """When the task that stored this artifact started."""
        return self._task.created_at

    @property
    def finished_at(self) -> datetime | None:
        """When the task that stored this artifact ended."""
        return self._task.finished_at

    @property
    def inline(self) -> bool:
        """Whether the bytes live in the metadata database rather than a blob file."""
        return self._ref.inline

    @property
    def metadata(self) -> dict[str, Any]:
        """What the serializer recorded: schema, rows, shape, dtype, size..."""
        return {k: v for k, v in self._ref.metadata.items() if k != CHUNKS_FIELD}


class Artifacts(list[DataArtifact]):
    """A task's artifacts: iterate them, or reach one by name (``artifacts.x``, ``artifacts["x"]``).

    An artifact's name wins over the list's methods, as in Metaflow (whose container is a
    named tuple): with an artifact named ``count``, ``artifacts.count`` is that artifact.
    """

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            found = _named(self, name)
            if found is not None:
                return found
        return super().__getattribute__(name)

    def __getattr__(self, name: str) -> DataArtifact:
        raise AttributeError(f"no artifact named '{name}'")

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        found = _named(self, key)
        if found is None:
            raise KeyError(f"no artifact named '{key}'")
        return found


def _named(artifacts: list[DataArtifact], name: str) -> DataArtifact | None:
    for artifact in list.__iter__(artifacts):
        if artifact.id == name:
            return artifact
    return None


class MetaflowData:
    """Artifact values by attribute or by item: ``data.dataset``, ``data["dataset"]``.

    An artifact's name wins over this object's one method: with an artifact named
    ``aget``, ``data.aget`` is its value (read it asynchronously with
    ``await task["aget"].aload()``). Names that are not identifiers, or start with ``_``,
    are reached the same way: ``data["_x"]``, ``data._x``.
    """

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)

    def __getattribute__(self, name: str) -> Any:
        if name == "aget" and name in object.__getattribute__(self, "_task"):
            return object.__getattribute__(self, "_task")[name].data
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        task: Task = self._task
        if name not in task:
            raise AttributeError(f"task {task.pathspec} has no artifact '{name}'")
        return task[name].data

    def __getitem__(self, name: str) -> Any:
        task: Task = self._task
        if name not in task:
            raise KeyError(f"task {task.pathspec} has no artifact '{name}'")
        return task[name].data

    async def aget(self, name: str) -> Any:
        """The value of artifact ``name``, decoded without blocking the event loop."""
        task: Task = self._task
        artifact = await in_thread(lambda: task[name])
        return await artifact.aload()

    def __contains__(self, name: str) -> bool:
        return name in self._task

    def __dir__(self) -> list[str]:
        return sorted(a.id for a in self._task.artifacts)

    def __repr__(self) -> str:
        return f"<MetaflowData: {', '.join(self.__dir__())}>"
