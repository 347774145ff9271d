"""The client API: read flows, runs, steps, tasks and artifacts from any process.

Names and behaviour follow Metaflow's client: ``Metaflow``, ``Flow``, ``Run``,
``Step``, ``Task``, ``DataArtifact``, and ``namespace``/``get_namespace``/
``default_namespace``. Listing reads metadata only; an artifact's value is
decoded on first access, once per client object.

Every call here blocks on the disk. From an event loop, use the awaitable
variants (``await flow.alatest_run()``, ``await run.adata()``,
``await task.data.aget("x")``, ``await artifact.aload()``) or wrap any client
expression in :func:`in_thread`::

    value = await in_thread(lambda: Flow("X")["3"]["start"].task.data.x)
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from .current import current
from .exceptions import NamespaceMismatchError, NotFoundError, TagError
from .store import ArtifactRef, Datastore, RunRecord, TaskRecord, resolve_root

__all__ = [
    "MAX_TAG_LENGTH",
    "Artifacts",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "MetaflowData",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_datastore",
    "get_namespace",
    "in_thread",
    "namespace",
]

T = TypeVar("T")

_stores: dict[Path, Datastore] = {}
_stores_lock = threading.Lock()

#: The longest tag accepted, as in Metaflow.
MAX_TAG_LENGTH = 500


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking client expression in a worker thread, so the loop stays free."""
    return await anyio.to_thread.run_sync(fn)


def get_datastore(root: str | os.PathLike[str] | None = None) -> Datastore:
    """The shared client-side datastore for ``root`` (see :func:`resolve_root`)."""
    path = resolve_root(root)
    with _stores_lock:
        if path not in _stores:
            if not (path / "metadata.db").exists():
                raise NotFoundError("datastore", str(path), hint="; no flow has run here yet")
            _stores[path] = Datastore(path)
        return _stores[path]


# --- namespaces ------------------------------------------------------------

_UNSET: Any = object()
_namespace: Any = _UNSET


def default_namespace() -> str:
    """Reset the namespace to the default and return it: the running flow's
    namespace inside a task, else ``user:<name>``."""
    global _namespace
    _namespace = _default()
    return str(_namespace)


def _default() -> str:
    if current.is_running_flow and current.namespace:
        return str(current.namespace)
    from .engine import current_user

    return f"user:{current_user()}"


def namespace(ns: str | None) -> str | None:
    """Switch the namespace the client sees (any tag, e.g. ``user:ann``); ``None``
    sees every run. Returns ``ns``."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace; ``None`` means global."""
    return _default() if _namespace is _UNSET else _namespace


def _in_namespace(record: RunRecord) -> bool:
    ns = get_namespace()
    return ns is None or ns in record.tags or ns in record.system_tags


def _check_namespace(record: RunRecord, kind: str, pathspec: str) -> None:
    if not _in_namespace(record):
        raise NamespaceMismatchError(kind, pathspec, str(get_namespace()))


# --- pathspecs -------------------------------------------------------------


def _split(pathspec: str, parts: int, kind: str) -> list[str]:
    pieces = pathspec.split("/")
    if len(pieces) != parts or not all(pieces):
        raise NotFoundError(kind, pathspec, hint=f"; expected {parts} parts separated by '/'")
    return pieces


def _int_id(pathspec: str, text: str, kind: str) -> int:
    if not text.isdigit():
        raise NotFoundError(kind, pathspec)
    return int(text)


def _load_run(store: Datastore, pathspec: str, kind: str, check: bool) -> RunRecord:
    """The run ``pathspec`` lies in; a missing run is named as the run, whatever ``kind``."""
    flow, run_id = pathspec.split("/")[:2]
    run_pathspec = f"{flow}/{run_id}"
    record = store.metadata.get_run(flow, _int_id(run_pathspec, run_id, "run"))
    if record is None:
        raise NotFoundError("run", run_pathspec)
    if check:
        _check_namespace(record, kind, pathspec)
    return record


def _time(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts) if ts is not None else None


class _Object:
    """What every client object has: ``id``, ``pathspec``, equality by pathspec."""

    id: str
    pathspec: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))

    @property
    def path_components(self) -> list[str]:
        """The parts of the pathspec: ``["Flow", "3", "start", "1"]``."""
        return self.pathspec.split("/")


class Metaflow:
    """Every flow in the datastore: ``Metaflow().flows``."""

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        self._root = resolve_root(root)

    @property
    def flows(self) -> list[Flow]:
        """Every flow that has run here, by name (whatever the namespace)."""
        if not (self._root / "metadata.db").exists():
            return []
        store = get_datastore(self._root)
        return [Flow._create(name, store) for name in store.metadata.list_flows()]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(_Object):
    """A flow that has run here: ``Flow("ArtifactFlow").latest_run``."""

    def __init__(self, name: str, *, root: str | os.PathLike[str] | None = None) -> None:
        store = get_datastore(root)
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
        return Run(f"{self.id}/{run_id}", root=self._store.root)

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


class Run(_Object):
    """One run: ``Run("ArtifactFlow/3").data.dataset``.

    A run outside the current namespace raises :class:`NamespaceMismatchError`.
    """

    def __init__(
        self,
        pathspec: str,
        *,
        root: str | os.PathLike[str] | None = None,
        _namespace_check: bool = True,
    ) -> None:
        _split(pathspec, 2, "run")
        store = get_datastore(root)
        self._init(_load_run(store, pathspec, "run", _namespace_check), store)

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
    def crashed(self) -> bool:
        """Whether the run shows as running but the process that ran it, here, is gone.

        A run on another host, or from before asyncflow recorded its process, is
        never reported as crashed.
        """
        record = self._refresh()
        owner = self._store.metadata.get_run_owner(record.run_id)
        if record.status != "running" or owner is None or owner[0] != socket.gethostname():
            return False
        return not _process_exists(owner[1])

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
        return _time(self._refresh().finished_at)

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
        """Tags asyncflow added (``user:<name>``, ``runtime:asyncflow``, ...)."""
        return frozenset(self._record.system_tags)

    def add_tag(self, tag: str) -> None:
        """Add a user tag (seen by every process at once)."""
        self.add_tags([tag])

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags in one step."""
        self.replace_tags([], tags)

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag; removing a system tag raises :class:`TagError`."""
        self.remove_tags([tag])

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags in one step."""
        self.replace_tags(tags, [])

    def replace_tag(self, old: str, new: str) -> None:
        """Remove ``old`` and add ``new`` in one step."""
        self.replace_tags([old], [new])

    def replace_tags(self, remove: Iterable[str], add: Iterable[str]) -> None:
        """Remove then add user tags, atomically."""
        remove, add = _valid_tags(remove), _valid_tags(add)
        system = set(remove) & set(self._record.system_tags)
        if system:
            raise TagError(self.pathspec, sorted(system)[0], "it is a system tag")
        self._store.metadata.update_tags(self._record.flow, self._record.run_id, add, remove)
        self._refresh()

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

    async def aend_task(self) -> Task | None:
        """:attr:`end_task`, without blocking the event loop."""
        return await in_thread(lambda: self.end_task)

    async def adata(self) -> MetaflowData | None:
        """:attr:`data`, without blocking the event loop."""
        return await in_thread(lambda: self.data)


def _valid_tags(tags: Iterable[str]) -> list[str]:
    tags = [tags] if isinstance(tags, str) else list(tags)
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise TagError(None, str(tag), "a tag must be a non-empty string")
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(None, tag[:20] + "...", f"a tag is at most {MAX_TAG_LENGTH} characters")
    return tags


class Step(_Object):
    """One step of a run: ``run["start"].task``."""

    def __init__(
        self,
        pathspec: str,
        *,
        root: str | os.PathLike[str] | None = None,
        _namespace_check: bool = True,
    ) -> None:
        step = _split(pathspec, 3, "step")[2]
        store = get_datastore(root)
        record = _load_run(store, pathspec, "step", _namespace_check)
        self._init(Run._from_record(record, store), step)
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

    @property
    def created_at(self) -> datetime | None:
        """When the step's first task started."""
        return _time(min((t.started_at for t in self._tasks()), default=None))

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task ended."""
        ends = [t.finished_at for t in self._tasks()]
        done = [end for end in ends if end is not None]
        return _time(max(done)) if done and len(done) == len(ends) else None

    async def atasks(self) -> list[Task]:
        """:meth:`tasks`, without blocking the event loop."""
        return await in_thread(self.tasks)


class Task(_Object):
    """One task: ``task.data.x``, ``task["x"].encoding``.

    ``attempt`` picks which attempt's ``stdout``/``stderr`` to show (default: the last).
    """

    def __init__(
        self,
        pathspec: str,
        *,
        attempt: int | None = None,
        root: str | os.PathLike[str] | None = None,
        _namespace_check: bool = True,
    ) -> None:
        flow, run_id, step, task_id = _split(pathspec, 4, "task")
        store = get_datastore(root)
        _load_run(store, pathspec, "task", _namespace_check)
        record = store.metadata.get_task(
            flow, int(run_id), step, _int_id(pathspec, task_id, "task")
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
        return _time(self._record.finished_at)

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
    def foreach_stack(self) -> list[dict[str, Any]]:
        """The foreach frames the task runs in, outermost first (step, var, index, num_splits)."""
        return [dict(frame) for frame in self._record.foreach_stack]

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

    def _run_tasks(self) -> list[TaskRecord]:
        return self._store.metadata.list_tasks(self._record.flow, self._record.run_id)

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


class DataArtifact(_Object):
    """One artifact: its value (``.data``, decoded once) and how it is stored."""

    _UNSET: Any = object()

    def __init__(
        self,
        pathspec: str,
        *,
        root: str | os.PathLike[str] | None = None,
        _namespace_check: bool = True,
    ) -> None:
        flow, run_id, step, task_id, name = _split(pathspec, 5, "artifact")
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

    _task: Task
    _ref: ArtifactRef
    _value: Any
    _lock: threading.Lock

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
        return dict(self._ref.metadata)


class Artifacts(list[DataArtifact]):
    """A task's artifacts: iterate them, or reach one by name (``artifacts.x``)."""

    def __getattr__(self, name: str) -> DataArtifact:
        for artifact in self:
            if artifact.id == name:
                return artifact
        raise AttributeError(f"no artifact named '{name}'")


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


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
