"""Run, task and artifact records in SQLite (WAL), safe across threads and processes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, Protocol

from ..exceptions import DatastoreError, StaleAttemptError
from .faults import fault_point
from .forks import reset_in_children
from .leases import Leases
from .modes import open_file
from .queries import SQLITE_QUERIES as Q
from .records import ArtifactRef, AttemptRecord, CardRecord, RunRecord, StepStats, TaskRecord
from .schema import MIGRATIONS, migrate

__all__ = [
    "ROW_VALUE_MAX",
    "MetadataStore",
    "SQLiteMetadataStore",
    "TaskCommit",
    "artifact_ref",
    "artifacts_by_task",
    "attempt_of",
    "inline_keys",
    "row_value",
    "step_stats_of",
    "unfinished",
]

#: One finished task to commit: its record, its artifacts and its logs.
TaskCommit = tuple[TaskRecord, Sequence[ArtifactRef], dict[str, str] | None]

_ARTIFACT_COLUMNS = "name, key, encoding, size, type, metadata, inline"
_ARTIFACT_COLUMNS_OF_A = ", ".join(f"a.{c}" for c in _ARTIFACT_COLUMNS.split(", "))
#: Inline values up to this size are kept in their artifact's row, one copy per row; larger
#: ones once in ``inline_blobs`` by key. A row copy costs no content-keyed index entry (a
#: random page per task); the copies a foreach's tasks inherit stay this small each.
ROW_VALUE_MAX = 256


class MetadataStore(Protocol):
    """Flows, runs, tasks and artifact records; a shared database can stand behind it later.

    :class:`SQLiteMetadataStore` documents what each method does.
    """

    def create_run(
        self,
        flow: str,
        user: str,
        params: dict[str, Any],
        tags: Sequence[str],
        system_tags: Sequence[str],
        origin_run_id: int | None = None,
        graph: dict[str, Any] | None = None,
        *,
        created_at: float | None = None,
    ) -> RunRecord:
        """Allocate a run id and record the run as running, with the flow's ``graph``
        (a JSON object, see :meth:`get_run_graph`) in the same transaction; it started
        at ``created_at`` (default: now; a copied run keeps its own)."""
        ...

    def get_run_graph(self, run_id: int) -> dict[str, Any] | None:
        """The graph recorded as the run started, or None (runs of older versions).

        ``{"steps": [{"name", "kind", "next": [step names], "foreach": var or null}]}``,
        steps in the order they can run; the store keeps it as given."""
        ...

    def finish_run(
        self,
        flow: str,
        run_id: int,
        status: str,
        exception: str | None = None,
        failed_pathspec: str | None = None,
        *,
        finished_at: float | None = None,
    ) -> None:
        """Mark a run successful, failed or cancelled (at ``finished_at``, default now)."""
        ...

    def commit_task(
        self,
        task: TaskRecord,
        artifacts: Sequence[ArtifactRef],
        logs: dict[str, str] | None = None,
        *,
        fenced: bool = False,
    ) -> None:
        """Make a task, its artifacts and its logs visible at once.

        ``fenced``: commit only if ``task.attempt`` is the attempt last fenced for the
        task (:meth:`fence_attempt`), else raise :class:`StaleAttemptError` and change
        nothing, so an attempt a cluster re-ran or left running cannot overwrite a newer one.
        """
        ...

    def commit_tasks(self, batch: Sequence[TaskCommit], *, fenced: bool = False) -> None:
        """Commit several finished tasks, each as :meth:`commit_task` would.

        Every task stays all-or-nothing; a store may put the whole batch in one
        transaction (SQLite and PostgreSQL do: a commit costs far more than a trivial
        task's rows), so one failing task may fail the batch: commit those tasks one by
        one then.
        """
        ...

    def fence_attempt(self, run_id: int, task_id: int, attempt: int) -> None:
        """Record ``attempt`` as the only attempt of the task allowed to commit from now on."""
        ...

    def get_logs(
        self, flow: str, run_id: int, task_id: int, stream: str, attempt: int | None = None
    ) -> str:
        """What a task printed to ``stream`` in ``attempt`` (default: its latest)."""
        ...

    def put_attempt(
        self,
        run_id: int,
        attempt: AttemptRecord,
        logs: dict[str, str],
        task: TaskRecord | None = None,
    ) -> None:
        """Store an attempt that did not end its task (a failed one, retried), its times
        and its output, at once. The attempt that ends the task is committed with it.
        ``task`` (its step, foreach stack and parents) registers the task, so a run whose
        process died before it committed finds it again (:meth:`list_unfinished`)."""
        ...

    def list_unfinished(self, flow: str, run_id: int) -> list[TaskRecord]:
        """The registered tasks of the run that never committed, in task id order, each
        with status ``unfinished`` and ``attempt`` its last recorded attempt."""
        ...

    def list_attempts(self, run_id: int, task_ids: Sequence[int]) -> list[AttemptRecord]:
        """The recorded attempts of these tasks, by task id then attempt."""
        ...

    def last_task_id(self, run_id: int) -> int:
        """The largest task id the run has used (0 if none): its committed tasks' and
        those that only recorded attempts, logs or a fence before the run stopped."""
        ...

    def get_run(self, flow: str, run_id: int) -> RunRecord | None:
        """The run, or None."""
        ...

    def list_runs(
        self,
        flow: str,
        *,
        tags: Sequence[str] = (),
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunRecord]:
        """Runs having every one of ``tags`` (and ``status``), created between ``since``
        and ``until`` (timestamps, both included), newest first: at most ``limit`` of
        them after skipping ``offset``. The store filters and pages; nothing else is read."""
        ...

    def count_runs(self, flow: str, *, tags: Sequence[str] = (), status: str | None = None) -> int:
        """How many runs :meth:`list_runs` would list with these filters (counted by the store)."""
        ...

    def list_flows(self) -> list[str]:
        """Names of every flow that has run."""
        ...

    def list_tasks(
        self,
        flow: str,
        run_id: int,
        step: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TaskRecord]:
        """Committed tasks of a run (of one step), in task id order: at most ``limit``
        after skipping ``offset``, paged by the store."""
        ...

    def count_tasks(self, flow: str, run_id: int, step: str | None = None) -> int:
        """How many tasks of the run (of one step) committed."""
        ...

    def step_stats(self, flow: str, run_id: int) -> list[StepStats]:
        """Each step of the run that has a committed task, summed up by the store
        (counts, times, parent steps), in the order the steps first ran."""
        ...

    def get_task(self, flow: str, run_id: int, step: str, task_id: int) -> TaskRecord | None:
        """One committed task, or None."""
        ...

    def list_artifacts(self, flow: str, run_id: int, task_id: int) -> list[ArtifactRef]:
        """Artifact records of a task, by name."""
        ...

    def list_artifacts_of_tasks(
        self, flow: str, run_id: int, task_ids: Sequence[int]
    ) -> dict[int, list[ArtifactRef]]:
        """Artifact records of many tasks, each task's by name, inline values with their
        bytes, in two queries (one for the bytes, read once per value however many tasks
        share it); a task with no artifact (or no such task) is left out."""
        ...

    def get_inline(self, key: str) -> bytes | None:
        """The bytes of an inline value, or None."""
        ...

    def update_tags(
        self, flow: str, run_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add then remove user tags atomically; the run's user tags afterwards."""
        ...

    def put_card(self, card: CardRecord) -> None:
        """Record a card; a card with the same task and hash is replaced in place."""
        ...

    def list_cards(self, flow: str, run_id: int, task_id: int) -> list[CardRecord]:
        """Cards of a task, in the order they were first recorded."""
        ...

    def set_run_owner(self, run_id: int, host: str, pid: int) -> None:
        """Record the process that runs ``run_id``."""
        ...

    def get_run_owner(self, run_id: int) -> tuple[str, int] | None:
        """``(host, pid)`` of the process that ran ``run_id``, if recorded."""
        ...

    def run_crashed(self, run_id: int) -> bool:
        """Whether the process that ran ``run_id`` is known to be gone (status aside)."""
        ...

    def leases(self) -> Leases | None:
        """Blob leases kept in this database, or None to use lease files."""
        ...

    def referenced_keys(self) -> set[str]:
        """Keys of every blob file a committed artifact or a recorded card uses."""
        ...

    def delete_unreferenced_inline(self) -> int:
        """Drop inline values no artifact uses; how many."""
        ...

    def artifact_usages(self, inline: bool) -> Iterator[tuple[str, str, int]]:
        """``(key, artifact pathspec, size)`` of every committed artifact, by key."""
        ...

    def row_values(self) -> Iterator[tuple[str, str, bytes]]:
        """``(key, artifact pathspec, bytes)`` of every inline value kept in its row."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the database while this process opens it.

    Switching a new database to WAL takes a lock that SQLite's busy handler does
    not wait for: two processes opening a fresh store at once would see "database
    is locked" at once. Opening one at a time avoids that; it costs nothing later.
    ``flock`` needs no write access: a user who may only read the store locks the
    file through a read-only descriptor (or not at all where there is none yet, as
    such a user creates nothing).
    """
    lock = path.with_name(path.name + ".open-lock")
    try:
        fd = open_file(lock, os.O_WRONLY | os.O_APPEND)
    except PermissionError:
        try:
            fd = os.open(lock, os.O_RDONLY)
        except FileNotFoundError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class SQLiteMetadataStore:
    """The embedded default: one SQLite file in WAL mode.

    One connection is shared by the threads of a process behind a lock;
    other processes coordinate through SQLite's own locking (every write is a
    ``BEGIN IMMEDIATE`` transaction, waiting up to a minute for another
    writer). ``fsync=True`` sets ``synchronous=FULL`` so each commit survives
    power loss; the default ``NORMAL`` survives a crash of the process.

    A user who cannot write the database (or its directory) opens it read-only:
    every read works, a write raises :class:`DatastoreError` saying so. A new
    database gets its directory's read and write bits (:mod:`.modes`).
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.read_only = _read_only(self.path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._snapshot: tuple[int, int, int, bool] | None = None
        try:
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with _opening(self.path):
                if not self.read_only:
                    _create_empty(self.path)
                self._conn, self._pid = self._connect(), os.getpid()
                # A read first: a store whose schema is current takes no write lock.
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version != len(MIGRATIONS):
                    with self._write() as cur:
                        migrate(cur)
        except sqlite3.DatabaseError as exc:
            _raise_storage_error(self.path, "open", exc)
        reset_in_children(self)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only connection. SQLite reads a WAL database through its ``-shm``
        file, which a reader who cannot write the directory may use but not create:
        while no process has the database open (no ``-wal`` file) the database file
        alone holds every commit, and is read as immutable; :meth:`_read` opens it
        again whenever that file changes or a ``-wal`` appears."""
        uri = self.path.absolute().as_uri()
        self._snapshot = None
        conn = _sqlite_uri(uri + "?mode=ro")
        try:
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            conn.close()
            if code not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
                raise
        self._snapshot = _file_stamp(self.path)
        return _sqlite_uri(uri + "?immutable=1")

    def _connection(self) -> sqlite3.Connection:
        """This process's connection (call with the lock held)."""
        if self._pid != os.getpid():
            # A forked child must neither use nor close its parent's connection (SQLite's
            # rule): keep that one alive, untouched, and open one of its own.
            _inherited.append(self._conn)
            self._conn, self._pid = self._connect(), os.getpid()
        return self._conn

    def _forked(self) -> None:
        # The child has only the forking thread: a lock another thread held stays held.
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection().close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            conn = self._connection()
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                    cur.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # a full disk may already have rolled it back
                        with contextlib.suppress(sqlite3.Error):
                            cur.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                _raise_storage_error(self.path, "write", exc)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                while True:
                    if self._snapshot is not None and _file_stamp(self.path) != self._snapshot:
                        self._conn.close()  # an immutable snapshot that is out of date
                        self._conn = self._connect()
                    snapshot = self._snapshot
                    rows = self._connection().execute(sql, args).fetchall()
                    # Rows read from an immutable snapshot count only if the file did
                    # not change meanwhile (a checkpoint of a writer that started).
                    if snapshot is None or _file_stamp(self.path) == snapshot:
                        return rows
            except sqlite3.DatabaseError as exc:
                _raise_storage_error(self.path, "read", exc)

    def create_run(
        self,
        flow: str,
        user: str,
        params: dict[str, Any],
        tags: Sequence[str],
        system_tags: Sequence[str],
        origin_run_id: int | None = None,
        graph: dict[str, Any] | None = None,
        *,
        created_at: float | None = None,
    ) -> RunRecord:
        """Allocate a new run id (unique across processes) and record the run as running,
        with its ``graph`` if given (``created_at``: when it started, default now)."""
        now = created_at or time.time()
        with self._write() as cur:
            cur.execute(Q.flow_insert, (flow, now))
            cur.execute(
                Q.run_insert,
                (flow, user, _dump(list(tags)), _dump(list(system_tags)), _dump(params), now,
                 origin_run_id),
            )  # fmt: skip
            run_id = cur.lastrowid
            if graph is not None:
                cur.execute(Q.graph_insert, (run_id, _dump(graph)))
        assert run_id is not None
        return RunRecord(
            flow, run_id, "running", user, list(tags), list(system_tags), params, now,
            origin_run_id=origin_run_id,
        )  # fmt: skip

    def get_run_graph(self, run_id: int) -> dict[str, Any] | None:
        """The graph recorded as the run started, or None."""
        rows = self._read(Q.graph_get, (run_id,))
        return _graph(rows[0][0]) if rows else None

    def set_run_owner(self, run_id: int, host: str, pid: int) -> None:
        """Record the process (host and pid) that runs ``run_id``."""
        with self._write() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO run_owners (run_id, host, pid) VALUES (?, ?, ?)",
                (run_id, host, pid),
            )

    def get_run_owner(self, run_id: int) -> tuple[str, int] | None:
        """``(host, pid)`` of the process that ran ``run_id``, if recorded."""
        rows = self._read(Q.run_owner_get, (run_id,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def run_crashed(self, run_id: int) -> bool:
        """Whether the run's process ran on this host and has ended. A run on another
        host, or from before asyncflow recorded its process, never counts as crashed."""
        import socket  # only for a run still marked running

        owner = self.get_run_owner(run_id)
        if owner is None or owner[0] != socket.gethostname():
            return False
        return not _process_exists(owner[1])

    def leases(self) -> None:
        """None: beside SQLite, blob leases are lock files (see :mod:`.leases`)."""
        return None

    def finish_run(
        self,
        flow: str,
        run_id: int,
        status: str,
        exception: str | None = None,
        failed_pathspec: str | None = None,
        *,
        finished_at: float | None = None,
    ) -> None:
        """Mark a run successful, failed or cancelled (at ``finished_at``, default now)."""
        with self._write() as cur:
            cur.execute(
                Q.run_finish,
                (status, finished_at or time.time(), exception, failed_pathspec, flow, run_id),
            )

    def commit_task(
        self,
        task: TaskRecord,
        artifacts: Sequence[ArtifactRef],
        logs: dict[str, str] | None = None,
        *,
        fenced: bool = False,
    ) -> None:
        """Make a task, its artifacts and its logs visible at once, in one transaction
        (``fenced``: see :meth:`MetadataStore.commit_task`)."""
        self.commit_tasks([(task, artifacts, logs)], fenced=fenced)

    def commit_tasks(self, batch: Sequence[TaskCommit], *, fenced: bool = False) -> None:
        """Commit every task of ``batch`` in one transaction: all visible, or none."""
        with self._write() as cur:
            for task, artifacts, logs in batch:
                _insert_task(cur, task, artifacts, logs, fenced)

    def get_run(self, flow: str, run_id: int) -> RunRecord | None:
        """The run, or None."""
        rows = self._read(Q.run_get, (flow, run_id))
        return _run(rows[0]) if rows else None

    def list_runs(
        self,
        flow: str,
        *,
        tags: Sequence[str] = (),
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunRecord]:
        """Runs of a flow having every one of ``tags`` (user or system), ``status`` and
        a creation time in ``[since, until]`` if given, newest first, ``limit`` of them
        after ``offset``; filtered and paged inside SQLite."""
        sql, args = Q.list_runs(flow, tags, status, limit, offset, since, until)
        return [_run(r) for r in self._read(sql, args)]

    def count_runs(self, flow: str, *, tags: Sequence[str] = (), status: str | None = None) -> int:
        """How many runs :meth:`list_runs` would list with these filters."""
        return int(self._read(*Q.count_runs(flow, tags, status))[0][0])

    def list_flows(self) -> list[str]:
        """Names of every flow that has run here."""
        return [r[0] for r in self._read(Q.flow_list)]

    def list_tasks(
        self,
        flow: str,
        run_id: int,
        step: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TaskRecord]:
        """Committed tasks of a run (of one step if given), in task id order, ``limit``
        of them after ``offset`` (paged inside SQLite)."""
        return _tasks(self._read(*Q.list_tasks(flow, run_id, step, limit, offset)))

    def count_tasks(self, flow: str, run_id: int, step: str | None = None) -> int:
        """How many tasks of the run (of one step if given) committed."""
        return int(self._read(*Q.count_tasks(flow, run_id, step))[0][0])

    def step_stats(self, flow: str, run_id: int) -> list[StepStats]:
        """Each step of the run with a committed task, summed up inside SQLite."""
        groups = self._read(Q.step_groups, (flow, run_id))
        edges = self._read(Q.step_edges, (flow, run_id))
        return step_stats_of(groups, edges)

    def get_task(self, flow: str, run_id: int, step: str, task_id: int) -> TaskRecord | None:
        """One committed task, or None."""
        rows = self._read(Q.task_get, (flow, run_id, step, task_id))
        return _task(rows[0]) if rows else None

    def list_artifacts(self, flow: str, run_id: int, task_id: int) -> list[ArtifactRef]:
        """Artifact records of a task, by name."""
        rows = self._read(
            f"SELECT {_ARTIFACT_COLUMNS}, data FROM artifacts WHERE flow=? AND run_id=? "
            "AND task_id=? ORDER BY name",
            (flow, run_id, task_id),
        )
        return [artifact_ref(r) for r in rows]

    def list_artifacts_of_tasks(
        self, flow: str, run_id: int, task_ids: Sequence[int]
    ) -> dict[int, list[ArtifactRef]]:
        """Artifact records of many tasks, each task's by name, inline values with their
        bytes, in two queries (one for the bytes, read once per value however many tasks
        share it); a task with no artifact (or no such task) is left out."""
        if not task_ids:
            return {}
        # The ids and keys go in as JSON arrays (no limit on bound variables); CROSS JOIN
        # keeps json_each outermost, so each task's rows are found by primary key.
        rows = self._read(
            f"SELECT json_group_array(a.task_id), {_ARTIFACT_COLUMNS_OF_A}, a.data "
            "FROM json_each(?) j CROSS JOIN artifacts a ON a.run_id = ? AND a.task_id = j.value "
            f"WHERE a.flow = ? GROUP BY {_ARTIFACT_COLUMNS_OF_A}, a.data ORDER BY a.name",
            (json.dumps([int(t) for t in task_ids]), run_id, flow),
        )
        keys = inline_keys(rows)
        blobs = keys and self._read(
            "SELECT key, data FROM inline_blobs WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(keys),),
        )
        owners = json.loads("[" + ",".join(r[0] for r in rows) + "]")
        return artifacts_by_task(rows, owners, blobs or [])

    def get_logs(
        self, flow: str, run_id: int, task_id: int, stream: str, attempt: int | None = None
    ) -> str:
        """What a task printed to ``stream`` in ``attempt`` (default: its latest); may be empty."""
        rows = self._read(*Q.get_logs(run_id, task_id, stream, attempt))
        return str(rows[0][0]) if rows else ""

    def put_attempt(
        self,
        run_id: int,
        attempt: AttemptRecord,
        logs: dict[str, str],
        task: TaskRecord | None = None,
    ) -> None:
        """Store an attempt that did not end its task, its times and output, at once
        (``task``: register it, see :meth:`MetadataStore.put_attempt`)."""
        with self._write() as cur:
            _insert_logs(cur, run_id, attempt.task_id, attempt.attempt, logs)
            _insert_attempt(cur, run_id, attempt)
            if task is not None:
                cur.execute(
                    Q.task_start_insert,
                    (run_id, task.task_id, task.step, _dump(task.foreach_stack),
                     _dump(task.parents)),
                )  # fmt: skip

    def list_unfinished(self, flow: str, run_id: int) -> list[TaskRecord]:
        """The registered tasks of the run that never committed, by task id."""
        return [unfinished(flow, run_id, row) for row in self._read(Q.unfinished, [run_id])]

    def list_attempts(self, run_id: int, task_ids: Sequence[int]) -> list[AttemptRecord]:
        """The recorded attempts of these tasks, by task id then attempt."""
        if not task_ids:
            return []
        rows = self._read(*Q.list_attempts(run_id, task_ids))
        return [AttemptRecord(*r) for r in rows]

    def last_task_id(self, run_id: int) -> int:
        """The largest task id the run has used (0 if none)."""
        return int(self._read(Q.last_task_id, [run_id] * 4)[0][0])

    def fence_attempt(self, run_id: int, task_id: int, attempt: int) -> None:
        """Record ``attempt`` as the only attempt of the task allowed to commit from now on."""
        with self._write() as cur:
            cur.execute(Q.fence_upsert, (run_id, task_id, attempt))

    def get_inline(self, key: str) -> bytes | None:
        """The bytes of an inline value, or None. A value kept in an artifact's row is
        found by a scan: its readers get it with the row (see :data:`ROW_VALUE_MAX`)."""
        rows = self._read("SELECT data FROM inline_blobs WHERE key=?", (key,)) or self._read(
            "SELECT data FROM artifacts WHERE key=? AND data IS NOT NULL LIMIT 1", (key,)
        )
        return bytes(rows[0][0]) if rows else None

    def set_tags(self, flow: str, run_id: int, tags: Sequence[str]) -> None:
        """Replace a run's user tags."""
        with self._write() as cur:
            cur.execute(Q.tags_set, (_dump(list(tags)), flow, run_id))

    def update_tags(
        self, flow: str, run_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add then remove user tags in one transaction (safe against concurrent
        updates); return the run's user tags afterwards, sorted."""
        with self._write() as cur:
            row = cur.execute(Q.tags_get, (flow, run_id)).fetchone()
            if row is None:
                raise DatastoreError(f"run {flow}/{run_id} does not exist")
            tags = (set(json.loads(row[0])) | set(add)) - set(remove)
            cur.execute(Q.tags_set, (_dump(sorted(tags)), flow, run_id))
        return sorted(tags)

    def put_card(self, card: CardRecord) -> None:
        """Record a card; one with the same task and hash is replaced in place (it keeps
        its position), as a task's final render replaces its interim one."""
        with self._write() as cur:
            cur.execute(
                Q.card_upsert,
                (card.flow, card.run_id, card.step, card.task_id, card.hash, card.type, card.id,
                 card.key, card.size, card.created_at, int(card.runtime)),
            )  # fmt: skip

    def list_cards(self, flow: str, run_id: int, task_id: int) -> list[CardRecord]:
        """Cards of a task, in the order they were first recorded."""
        rows = self._read(Q.card_list, (flow, run_id, task_id))
        return [_card(r) for r in rows]

    def referenced_keys(self) -> set[str]:
        """Keys of every blob file some committed artifact or recorded card uses."""
        rows = self._read(
            "SELECT DISTINCT key FROM artifacts WHERE inline=0 UNION SELECT key FROM cards"
        )
        return {r[0] for r in rows}

    def delete_unreferenced_inline(self) -> int:
        """Drop inline values no artifact uses (left by tasks that never committed)."""
        with self._write() as cur:
            cur.execute("DELETE FROM inline_blobs WHERE key NOT IN (SELECT key FROM artifacts)")
            return cur.rowcount

    def artifact_usages(self, inline: bool) -> Iterator[tuple[str, str, int]]:
        """``(key, artifact pathspec, size)`` for every committed artifact stored
        inline (``inline=True``) or in a blob file, ordered by key."""
        rows = self._read(
            Q.artifact_usages,
            (int(inline),),
        )
        for key, flow, run_id, step, task_id, name, size in rows:
            yield key, f"{flow}/{run_id}/{step}/{task_id}/{name}", size

    def row_values(self) -> Iterator[tuple[str, str, bytes]]:
        """``(key, artifact pathspec, bytes)`` of every inline value kept in its
        artifact's row (see :data:`ROW_VALUE_MAX`), ordered by key."""
        rows = self._read(Q.row_values)
        for key, flow, run_id, step, task_id, name, data in rows:
            yield key, f"{flow}/{run_id}/{step}/{task_id}/{name}", bytes(data)


#: Connections a forked child inherited: referenced for ever, so it never closes them.
_inherited: list[sqlite3.Connection] = []


def _read_only(path: Path) -> bool:
    """Whether this user may read the existing database at ``path`` but not write it."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _create_empty(path: Path) -> None:
    """Create ``path`` (SQLite takes an empty file for a new database) with its
    directory's read and write bits, which SQLite gives its ``-wal`` and ``-shm`` too
    (linked into place with them: no other writer finds it private meanwhile)."""
    if not path.exists():
        os.close(open_file(path, os.O_RDONLY))


def _sqlite_uri(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None, check_same_thread=False)


def _file_stamp(path: Path) -> tuple[int, int, int, bool]:
    """What changes when a process writes the database: the file, and its ``-wal``."""
    st = os.stat(path)
    wal = path.with_name(path.name + "-wal").exists()
    return (st.st_ino, st.st_size, st.st_mtime_ns, wal)


#: Below this many free bytes, a failed write is put down to a full disk.
_NEARLY_FULL = 1 << 20


def _raise_storage_error(path: Path, doing: str, exc: sqlite3.DatabaseError) -> NoReturn:
    failure = _storage_error(path, doing, exc)
    if failure is None:
        raise exc
    raise failure from exc


def _storage_error(path: Path, doing: str, exc: sqlite3.DatabaseError) -> DatastoreError | None:
    """The error that says what is wrong when ``exc`` is met while ``doing`` (open, read,
    write) the database at ``path``: the disk is full, the database is read-only for this
    user or unreadable; None when ``exc`` is not about the storage (a constraint, a bug)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and _nearly_full(path)):
        return DatastoreError(
            f"the disk is full: cannot {doing} the metadata database {path} "
            f"({_free(path)} free on its file system; SQLite: {exc})"
        )
    if code == sqlite3.SQLITE_READONLY:
        return DatastoreError(
            f"cannot {doing} the metadata database {path}: it is read-only for this user "
            f"(a reader of a shared store can read runs, not start them; SQLite: {exc})"
        )
    if doing == "open" or code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        return DatastoreError(f"cannot {doing} the metadata database {path}: {exc}")
    return None


def _nearly_full(path: Path) -> bool:
    free = _free_bytes(path)
    return free is not None and free < _NEARLY_FULL


def _free(path: Path) -> str:
    free = _free_bytes(path)
    return "unknown space" if free is None else f"{free:,} bytes"


def _free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _check_fence(cur: sqlite3.Cursor, task: TaskRecord) -> None:
    row = cur.execute(Q.fence_get, (task.run_id, task.task_id)).fetchone()
    if row is None or row[0] != task.attempt:
        raise StaleAttemptError(task.pathspec, task.attempt, None if row is None else row[0])


def _insert_task(
    cur: sqlite3.Cursor,
    task: TaskRecord,
    artifacts: Sequence[ArtifactRef],
    logs: dict[str, str] | None,
    fenced: bool,
) -> None:
    if fenced:
        _check_fence(cur, task)
    _insert_logs(cur, task.run_id, task.task_id, task.attempt, logs or {})
    cur.executemany(
        "INSERT OR IGNORE INTO inline_blobs (key, data) VALUES (?, ?)",
        [(a.key, a.data) for a in artifacts if row_value(a) is None and a.data is not None],
    )
    cur.execute(
            Q.task_upsert,
            (task.flow, task.run_id, task.step, task.task_id, task.status, task.attempt,
             task.started_at, task.finished_at, _dump(task.foreach_stack),
             _dump(task.parents), task.exception, task.origin_task_id),
        )  # fmt: skip
    cur.executemany(
            f"INSERT OR REPLACE INTO artifacts (flow, run_id, task_id, {_ARTIFACT_COLUMNS}, "
            f"data) VALUES ({_marks(11)})",
            [(task.flow, task.run_id, task.task_id, a.name, a.key, a.encoding, a.size, a.type,
              _dump(a.metadata), int(a.inline), row_value(a)) for a in artifacts],
        )  # fmt: skip
    _insert_attempt(cur, task.run_id, attempt_of(task))
    fault_point("commit-task")


def unfinished(flow: str, run_id: int, row: tuple[Any, ...]) -> TaskRecord:
    """A row of :attr:`Queries.unfinished <asyncflow.store.queries.Queries.unfinished>` as a
    task record."""
    task_id, step, stack, parents, attempt = row
    return TaskRecord(
        flow, run_id, step, int(task_id), "unfinished", int(attempt or 0),
        foreach_stack=json.loads(stack), parents=json.loads(parents),
    )  # fmt: skip


def attempt_of(task: TaskRecord) -> AttemptRecord:
    """The attempt that ends ``task``, as committed with it."""
    started = task.started_at if task.attempt_started_at is None else task.attempt_started_at
    return AttemptRecord(task.task_id, task.attempt, task.status, started, task.finished_at)


def _insert_attempt(cur: sqlite3.Cursor, run_id: int, a: AttemptRecord) -> None:
    cur.execute(
        Q.attempt_upsert,
        (run_id, a.task_id, a.attempt, a.status, a.started_at, a.finished_at),
    )


def _graph(text: str) -> dict[str, Any] | None:
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def _insert_logs(
    cur: sqlite3.Cursor, run_id: int, task_id: int, attempt: int, logs: dict[str, str]
) -> None:
    cur.executemany(
        Q.log_upsert,
        [(run_id, task_id, attempt, stream, text) for stream, text in logs.items()],
    )


def step_stats_of(
    groups: Sequence[Sequence[Any]], edges: Sequence[Sequence[Any]]
) -> list[StepStats]:
    """Step summaries from rows ``(step, status, count, first start, last end, first
    task id, foreach)`` and ``(parent step, step)``, in the order the steps first ran."""
    parents: dict[str, set[str]] = {}
    for parent, child in edges:
        parents.setdefault(child, set()).add(parent)
    merged: dict[str, StepStats] = {}
    for step, status, count, started, finished, first, foreach in groups:
        old = merged.get(step)
        statuses = {**(old.statuses if old else {}), status: int(count)}
        merged[step] = StepStats(
            step, statuses, _least(old.started_at if old else None, started),
            _most(old.finished_at if old else None, finished),
            min(int(first), old.first_task_id) if old else int(first),
            bool(foreach) or (old.foreach if old else False),
            frozenset(parents.get(step, ())),
        )  # fmt: skip
    return sorted(merged.values(), key=lambda s: s.first_task_id)


def _least(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


#: One encoder for every row (``json.dumps`` with options builds one per call).
_ENCODER = json.JSONEncoder(sort_keys=True, default=repr)


#: A long list is encoded this many items at a time: the encoder keeps a string per item
#: until it joins them (a join's 100,000 parent ids: 4 MB for a 0.7 MB text).
_DUMP_SLICE = 4096


def _dump(value: Any) -> str:
    if type(value) is not list or len(value) <= _DUMP_SLICE:
        return _ENCODER.encode(value)
    parts = (_ENCODER.encode(value[i : i + _DUMP_SLICE])[1:-1]
             for i in range(0, len(value), _DUMP_SLICE))  # fmt: skip
    return "[" + ", ".join(parts) + "]"


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), json.loads(row[6]),
        row[7], row[8], row[9], row[10], row[11],
    )  # fmt: skip


def _task(row: tuple[Any, ...]) -> TaskRecord:
    return TaskRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]),
        json.loads(row[9]), row[10], row[11],
    )  # fmt: skip


def _tasks(rows: list[tuple[Any, ...]]) -> list[TaskRecord]:
    """Many task rows at once: their JSON columns decoded in one call, not two per row
    (listing 100,000 tasks is mostly that decoding)."""
    if not rows:
        return []
    stacks = json.loads("[" + ",".join(r[8] for r in rows) + "]")
    parents = json.loads("[" + ",".join(r[9] for r in rows) + "]")
    return [
        TaskRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], stack, parent, r[10], r[11])
        for r, stack, parent in zip(rows, stacks, parents, strict=True)
    ]


def row_value(ref: ArtifactRef) -> bytes | None:
    """The bytes to keep in ``ref``'s row: an inline value up to :data:`ROW_VALUE_MAX`."""
    data = ref.data
    return data if ref.inline and data is not None and len(data) <= ROW_VALUE_MAX else None


def artifact_ref(row: tuple[Any, ...]) -> ArtifactRef:
    """A row of the artifact columns and ``data`` as a ref (with its row value, if any)."""
    data = None if row[7] is None else bytes(row[7])
    return ArtifactRef(row[0], row[1], row[2], int(row[3]), row[4], json.loads(row[5]),
                       bool(row[6]), data)  # fmt: skip


def inline_keys(rows: Sequence[tuple[Any, ...]]) -> list[str]:
    """The distinct keys of the inline values kept in ``inline_blobs`` among rows of the
    tasks' ids, the artifact columns and ``data``."""
    return sorted({r[2] for r in rows if r[7] and r[8] is None})


def artifacts_by_task(
    rows: Sequence[tuple[Any, ...]],
    owners: Sequence[Sequence[int]],
    blobs: Sequence[tuple[Any, ...]],
) -> dict[int, list[ArtifactRef]]:
    """Each task's refs from rows of the artifact columns and ``data`` (after a first
    column) by name, the ids of the tasks that have each, and the ``(key, data)`` of the
    inline values kept in ``inline_blobs``.

    One row stands for every task with that very record (a foreach's tasks all inherit
    their parent's artifacts), and those tasks share one ref: fewer rows to read and one
    object, not one per task. The metadata columns are decoded in one call.
    """
    data = {key: bytes(value) for key, value in blobs}
    metadata = json.loads("[" + ",".join(r[6] for r in rows) + "]")
    by_task: dict[int, list[ArtifactRef]] = {}
    for r, meta, task_ids in zip(rows, metadata, owners, strict=True):
        inline = bool(r[7])
        value = bytes(r[8]) if r[8] is not None else data.get(r[2]) if inline else None
        ref = ArtifactRef(r[1], r[2], r[3], int(r[4]), r[5], meta, inline, value)
        for task_id in task_ids:
            by_task.setdefault(int(task_id), []).append(ref)
    return by_task


def _card(row: tuple[Any, ...]) -> CardRecord:
    return CardRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        bool(row[10]),
    )  # fmt: skip
