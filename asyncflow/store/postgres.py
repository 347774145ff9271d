"""Run, task and artifact records in PostgreSQL, shared by processes on many hosts.

psycopg 3's sync API behind a connection pool: the engine already calls the metadata
store from worker threads, so this works the same under asyncio and trio (measured
here: ~1.1 ms per commit-shaped transaction; asyncpg does not run under trio).

Liveness cannot rest on ``flock`` or ``(host, pid)`` once writers live on several
hosts. Each process that writes has a row in ``owners`` whose ``expires_at`` a
heartbeat thread pushes forward (every third of :data:`LEASE_SECONDS`); a run points
at its owner, so :meth:`run_crashed` is "still running, owner expired", and blob
leases count only while their owner is alive. Expiry uses the database's clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ..exceptions import DatastoreError, LeaseLapsedError, StaleAttemptError
from .faults import fault_point
from .forks import reset_in_children
from .metadata import (
    TaskCommit,
    artifact_ref,
    artifacts_by_task,
    attempt_of,
    inline_keys,
    row_value,
    step_stats_of,
    unfinished,
)
from .postgres_schema import migrate
from .queries import POSTGRES_QUERIES as Q
from .records import ArtifactRef, AttemptRecord, CardRecord, RunRecord, StepStats, TaskRecord
from .urls import _redacted

__all__ = ["LEASE_SECONDS", "PostgresLeases", "PostgresMetadataStore"]

#: How long a writer's owner row stays alive without a heartbeat
#: (``$ASYNCFLOW_LEASE_SECONDS`` overrides it).
LEASE_SECONDS = 30.0

#: Advisory lock id for gc: claims hold it shared, the collector exclusive.
_GC_LOCK = 0x6166_6763

_NOW = "extract(epoch from clock_timestamp())"
_ARTIFACT_COLUMNS = "name, key, encoding, size, type, metadata, inline"
_LOCK_ARGS = "%s::int4, hashtext(current_setting('search_path'))"


class PostgresMetadataStore:
    """The metadata of a shared datastore, in one PostgreSQL database (or schema: the
    URL's ``options=-csearch_path=NAME`` picks one)."""

    def __init__(self, url: str, *, lease_seconds: float | None = None) -> None:
        self.url = url
        env = os.environ.get("ASYNCFLOW_LEASE_SECONDS")
        self.lease_seconds = lease_seconds or (float(env) if env else LEASE_SECONDS)
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._owner: str | None = None
        #: An owner whose lease expired before this process renewed it (see :meth:`renew`).
        self._lapsed: str | None = None
        self._heartbeat: _Heartbeat | None = None
        self._leases: PostgresLeases | None = None
        try:
            with self._tx() as cur:
                migrate(cur)
        except psycopg.Error as exc:
            raise DatastoreError(
                f"cannot open metadata database {_redacted(url)}: {str(exc).strip()}"
            ) from exc
        reset_in_children(self)

    def _forked(self) -> None:
        # A child must not use its parent's sockets or speak for its parent's owner row.
        self._pool_lock = threading.Lock()
        self._pool, self._owner, self._heartbeat, self._lapsed = None, None, None, None

    def _connections(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=8, open=True, name="asyncflow",
                    kwargs={"autocommit": False},
                )  # fmt: skip
            return self._pool

    @contextlib.contextmanager
    def _tx(self, *, pipelined: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction: committed when the block ends, rolled back if it raises.
        ``pipelined``: statements are sent without waiting for each result (for writes
        that read nothing back), so the transaction costs about one round trip."""
        with self._connections().connection() as conn:
            pipeline = conn.pipeline() if pipelined else contextlib.nullcontext()
            with pipeline, conn.transaction(), conn.cursor() as cur:
                yield cur

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            return cur.execute(sql, args).fetchall()

    def close(self) -> None:
        """Stop the heartbeat, mark this process's owner row expired, close the pool."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            with contextlib.suppress(psycopg.Error), self._tx() as cur:
                cur.execute("UPDATE owners SET expires_at = 0 WHERE owner = %s", (self._owner,))
                cur.execute("DELETE FROM blob_leases WHERE owner = %s", (self._owner,))
            self._heartbeat = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- liveness ------------------------------------------------------------------------

    def owner(self) -> str:
        """This process's owner id; its row is created (and kept alive) on first use, and
        made again after a lapse (see :meth:`renew`), taking over the old one's runs."""
        with self._pool_lock:
            if self._owner is not None:
                return self._owner
            owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO owners (owner, host, pid, expires_at) "
                f"VALUES (%s, %s, %s, {_NOW} + %s)",
                (owner, socket.gethostname(), os.getpid(), self.lease_seconds),
            )
            if self._lapsed is not None:
                cur.execute(
                    "UPDATE run_owners SET owner = %s WHERE owner = %s", (owner, self._lapsed)
                )
        with self._pool_lock:
            self._owner, self._lapsed = owner, None
            self._heartbeat = _Heartbeat(self, owner, self.lease_seconds / 3)
        return owner

    def renew(self, owner: str) -> bool:
        """Push ``owner``'s expiry one lease period ahead, unless it has expired already:
        a process that stalled past its lease (a suspended laptop, a stopped container)
        may have had its claims collected meanwhile, so its lease never comes back to
        life. False then; its next commit fails (:class:`LeaseLapsedError`)."""
        with self._tx() as cur:
            cur.execute(
                f"UPDATE owners SET expires_at = {_NOW} + %s "
                f"WHERE owner = %s AND expires_at >= {_NOW}",
                (self.lease_seconds, owner),
            )
            return bool(cur.rowcount)

    def _lapse(self, owner: str) -> None:
        """Forget a lapsed owner: the next claim or run makes a new one."""
        with self._pool_lock:
            if self._owner != owner:
                return
            heartbeat, self._heartbeat = self._heartbeat, None
            self._owner, self._lapsed = None, owner
        if heartbeat is not None:
            heartbeat.stop()
        if self._leases is not None:
            self._leases.forget()

    def set_run_owner(self, run_id: int, host: str, pid: int) -> None:
        """Record that this process (kept alive by its heartbeat) runs ``run_id``."""
        owner = self.owner()
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO run_owners (run_id, owner, host, pid) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (run_id) DO UPDATE SET owner = EXCLUDED.owner, "
                "host = EXCLUDED.host, pid = EXCLUDED.pid",
                (run_id, owner, host, pid),
            )

    def get_run_owner(self, run_id: int) -> tuple[str, int] | None:
        """``(host, pid)`` of the process that ran ``run_id``, if recorded."""
        rows = self._read(Q.run_owner_get, (run_id,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def run_crashed(self, run_id: int) -> bool:
        """Whether the run's owner has stopped renewing its lease (on whatever host)."""
        rows = self._read(
            f"SELECT o.expires_at < {_NOW} FROM run_owners r LEFT JOIN owners o "
            "ON o.owner = r.owner WHERE r.run_id = %s",
            (run_id,),
        )
        return bool(rows) and rows[0][0] is not False

    def leases(self) -> PostgresLeases:
        """Blob leases as rows of this database."""
        self._leases = PostgresLeases(self)
        return self._leases

    # -- runs ----------------------------------------------------------------------------

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
        """Allocate a new run id (unique across hosts) and record the run as running,
        with its ``graph`` if given (``created_at``: when it started, default now)."""
        now = created_at or time.time()
        with self._tx() as cur:
            cur.execute(Q.flow_insert, (flow, now))
            row = cur.execute(
                Q.run_insert,
                (flow, user, Jsonb(list(tags)), Jsonb(list(system_tags)), _dump(params), now,
                 origin_run_id),
            ).fetchone()  # fmt: skip
            assert row is not None
            if graph is not None:
                cur.execute(Q.graph_insert, (row[0], _dump(graph)))
        return RunRecord(
            flow, int(row[0]), "running", user, list(tags), list(system_tags), params, now,
            origin_run_id=origin_run_id,
        )  # fmt: skip

    def get_run_graph(self, run_id: int) -> dict[str, Any] | None:
        """The graph recorded as the run started, or None."""
        rows = self._read(Q.graph_get, (run_id,))
        value = json.loads(rows[0][0]) if rows else None
        return value if isinstance(value, dict) else None

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
        with self._tx() as cur:
            cur.execute(
                Q.run_finish,
                (status, finished_at or time.time(), exception, failed_pathspec, flow, run_id),
            )

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
        after ``offset``; filtered and paged by PostgreSQL."""
        sql, args = Q.list_runs(flow, tags, status, limit, offset, since, until)
        return [_run(r) for r in self._read(sql, args)]

    def count_runs(self, flow: str, *, tags: Sequence[str] = (), status: str | None = None) -> int:
        """How many runs :meth:`list_runs` would list with these filters."""
        return int(self._read(*Q.count_runs(flow, tags, status))[0][0])

    def list_flows(self) -> list[str]:
        """Names of every flow that has run here."""
        return [r[0] for r in self._read(Q.flow_list)]

    def set_tags(self, flow: str, run_id: int, tags: Sequence[str]) -> None:
        """Replace a run's user tags."""
        with self._tx() as cur:
            cur.execute(Q.tags_set, (Jsonb(list(tags)), flow, run_id))

    def update_tags(
        self, flow: str, run_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add then remove user tags in one transaction (the row is locked, so concurrent
        updates from other hosts apply one after the other); the user tags after, sorted."""
        with self._tx() as cur:
            row = cur.execute(Q.tags_get, (flow, run_id)).fetchone()
            if row is None:
                raise DatastoreError(f"run {flow}/{run_id} does not exist")
            tags = (set(row[0]) | set(add)) - set(remove)
            cur.execute(Q.tags_set, (Jsonb(sorted(tags)), flow, run_id))
        return sorted(tags)

    # -- tasks, artifacts, logs ----------------------------------------------------------

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
        """Commit every task of ``batch`` in one transaction: all visible, or none. A
        process holding blob claims commits only while its lease is alive (checked in
        the same transaction, so no collector runs between the check and the commit)."""
        owner = self._owner
        try:
            with self._tx(pipelined=True) as cur:
                if owner is not None:
                    _check_alive(cur, owner, self.lease_seconds)
                _insert_tasks(cur, batch, fenced)
        except psycopg.errors.InvalidTextRepresentation as exc:
            if owner is None or _LAPSED not in str(exc):
                raise
            self._lapse(owner)
            raise LeaseLapsedError(owner, self.lease_seconds) from None

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
        of them after ``offset`` (paged by PostgreSQL)."""
        return [_task(r) for r in self._read(*Q.list_tasks(flow, run_id, step, limit, offset))]

    def count_tasks(self, flow: str, run_id: int, step: str | None = None) -> int:
        """How many tasks of the run (of one step if given) committed."""
        return int(self._read(*Q.count_tasks(flow, run_id, step))[0][0])

    def step_stats(self, flow: str, run_id: int) -> list[StepStats]:
        """Each step of the run with a committed task, summed up by PostgreSQL."""
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
            f"SELECT {_ARTIFACT_COLUMNS}, data FROM artifacts WHERE flow=%s AND run_id=%s "
            "AND task_id=%s ORDER BY name",
            (flow, run_id, task_id),
        )
        return [artifact_ref(r) for r in rows]

    def list_artifacts_of_tasks(
        self, flow: str, run_id: int, task_ids: Sequence[int]
    ) -> dict[int, list[ArtifactRef]]:
        """Artifact records of many tasks in one query, each task's by name, inline values
        with their bytes; a task with no artifact (or no such task) is left out."""
        if not task_ids:
            return {}
        rows = self._read(
            f"SELECT array_agg(task_id), {_ARTIFACT_COLUMNS}, data FROM artifacts "
            "WHERE flow=%s AND run_id=%s AND task_id = ANY(%s) "
            f"GROUP BY {_ARTIFACT_COLUMNS}, data ORDER BY name",
            (flow, run_id, [int(t) for t in task_ids]),
        )
        keys = inline_keys(rows)
        blobs = keys and self._read(
            "SELECT key, data FROM inline_blobs WHERE key = ANY(%s)", (keys,)
        )
        return artifacts_by_task(rows, [r[0] for r in rows], blobs or [])

    def get_logs(
        self, flow: str, run_id: int, task_id: int, stream: str, attempt: int | None = None
    ) -> str:
        """What a task printed to ``stream`` in ``attempt`` (default: its latest)."""
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
        with self._tx() as cur:
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
        rows = self._read(Q.unfinished, (run_id,))
        return [unfinished(flow, run_id, row) for row in rows]

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
        with self._tx() as cur:
            cur.execute(Q.fence_upsert, (run_id, task_id, attempt))

    def get_inline(self, key: str) -> bytes | None:
        """The bytes of an inline value, or None (one kept in a row: found by a scan)."""
        rows = self._read("SELECT data FROM inline_blobs WHERE key=%s", (key,)) or self._read(
            "SELECT data FROM artifacts WHERE key=%s AND data IS NOT NULL LIMIT 1", (key,)
        )
        return bytes(rows[0][0]) if rows else None

    # -- gc and verify -------------------------------------------------------------------

    def put_card(self, card: CardRecord) -> None:
        """Record a card; one with the same task and hash is replaced in place."""
        with self._tx() as cur:
            cur.execute(
                Q.card_upsert,
                (card.flow, card.run_id, card.step, card.task_id, card.hash, card.type, card.id,
                 card.key, card.size, card.created_at, card.runtime),
            )  # fmt: skip

    def list_cards(self, flow: str, run_id: int, task_id: int) -> list[CardRecord]:
        """Cards of a task, in the order they were first recorded."""
        rows = self._read(Q.card_list, (flow, run_id, task_id))
        return [_card(r) for r in rows]

    def referenced_keys(self) -> set[str]:
        """Keys of every blob some committed artifact or recorded card uses."""
        rows = self._read(
            "SELECT DISTINCT key FROM artifacts WHERE NOT inline UNION SELECT key FROM cards"
        )
        return {r[0] for r in rows}

    def delete_unreferenced_inline(self) -> int:
        """Drop inline values no artifact uses (left by tasks that never committed)."""
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM inline_blobs b WHERE NOT EXISTS "
                "(SELECT 1 FROM artifacts a WHERE a.key = b.key)"
            )
            return int(cur.rowcount)

    def artifact_usages(self, inline: bool) -> Iterator[tuple[str, str, int]]:
        """``(key, artifact pathspec, size)`` for every committed artifact stored
        inline (``inline=True``) or as a blob, ordered by key."""
        rows = self._read(
            Q.artifact_usages,
            (inline,),
        )
        for key, flow, run_id, step, task_id, name, size in rows:
            yield key, f"{flow}/{run_id}/{step}/{task_id}/{name}", int(size)

    def row_values(self) -> Iterator[tuple[str, str, bytes]]:
        """``(key, artifact pathspec, bytes)`` of every inline value kept in its
        artifact's row, ordered by key."""
        rows = self._read(Q.row_values)
        for key, flow, run_id, step, task_id, name, data in rows:
            yield key, f"{flow}/{run_id}/{step}/{task_id}/{name}", bytes(data)


class PostgresLeases:
    """Blob claims as ``blob_leases`` rows of this process's owner.

    A claim and the collector exclude each other through an advisory lock (shared to
    claim, exclusive to collect), so a collector either sees a claim or finishes its
    deletions before the claimed blob is looked for.
    """

    def __init__(self, store: PostgresMetadataStore) -> None:
        self._store = store
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        reset_in_children(self)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._keys = set()

    def forget(self) -> None:
        """Drop every claim from memory (its owner lapsed: its rows are no one's now)."""
        with self._lock:
            self._keys = set()

    def add(self, key: str) -> None:
        """Claim ``key`` (waits while a collector is deleting)."""
        with self._lock:
            if key in self._keys:
                return
        owner = self._store.owner()
        with self._store._tx() as cur:
            cur.execute(f"SELECT pg_advisory_xact_lock_shared({_LOCK_ARGS})", (_GC_LOCK,))
            cur.execute(
                "INSERT INTO blob_leases (owner, key) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (owner, key),
            )
        with self._lock:
            self._keys.add(key)

    def release(self, keys: Iterable[str]) -> None:
        """Drop claims on ``keys``."""
        with self._lock:
            done = self._keys.intersection(keys)
            self._keys -= done
        if done:
            with self._store._tx() as cur:
                cur.execute(
                    "DELETE FROM blob_leases WHERE owner = %s AND key = ANY(%s)",
                    (self._store.owner(), sorted(done)),
                )

    def close(self) -> None:
        """Give up every claim."""
        with self._lock:
            done, self._keys = self._keys, set()
        if done:
            self.release(done)

    @contextlib.contextmanager
    def collecting(self, *, dry_run: bool = False) -> Iterator[set[str]]:
        """Every key claimed by a live owner, with new claims held off until exit; a dry
        run deletes no expired claim."""
        with self._store._tx() as cur:
            cur.execute(f"SELECT pg_advisory_xact_lock({_LOCK_ARGS})", (_GC_LOCK,))
            if not dry_run:
                cur.execute(
                    "DELETE FROM blob_leases l USING owners o "
                    f"WHERE o.owner = l.owner AND o.expires_at < {_NOW}"
                )
            # Live claims: those of no expired owner (what the DELETE leaves).
            rows = cur.execute(
                "SELECT DISTINCT l.key FROM blob_leases l LEFT JOIN owners o "
                f"ON o.owner = l.owner WHERE o.owner IS NULL OR o.expires_at >= {_NOW}"
            ).fetchall()
            yield {r[0] for r in rows}


class _Heartbeat:
    """A daemon thread that renews one owner row until stopped."""

    def __init__(self, store: PostgresMetadataStore, owner: str, every: float) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(store, owner, every), name="asyncflow-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, store: PostgresMetadataStore, owner: str, every: float) -> None:
        while not self._stopped.wait(every):
            with contextlib.suppress(psycopg.Error):  # a blip: the next beat retries
                if not store.renew(owner):
                    return  # lapsed: the next commit says so (see renew)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


_INLINE_INSERT = "INSERT INTO inline_blobs (key, data) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_ARTIFACT_UPSERT = (
    f"INSERT INTO artifacts (flow, run_id, task_id, {_ARTIFACT_COLUMNS}, data) "
    f"VALUES ({', '.join(['%s'] * 11)}) ON CONFLICT (run_id, task_id, name) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_ARTIFACT_COLUMNS.split(", "), "data"))
)


def _insert_tasks(cur: psycopg.Cursor[Any], batch: Sequence[TaskCommit], fenced: bool) -> None:
    """Every row of every task of ``batch``, on a pipelined cursor: statements go out
    without waiting for one another, so a group costs about one round trip."""
    if fenced:
        for task, _, _ in batch:
            _check_fence(cur, task)
    for task, refs, logs in batch:
        for stream, text in (logs or {}).items():
            cur.execute(Q.log_upsert, (task.run_id, task.task_id, task.attempt, stream, text))
        for a in refs:
            if a.inline and a.data is not None and row_value(a) is None:
                cur.execute(_INLINE_INSERT, (a.key, a.data))
        cur.execute(
            Q.task_upsert,
            (task.flow, task.run_id, task.step, task.task_id, task.status, task.attempt,
             task.started_at, task.finished_at, _dump(task.foreach_stack), _dump(task.parents),
             task.exception, task.origin_task_id),
        )  # fmt: skip
        for a in refs:
            cur.execute(
                _ARTIFACT_UPSERT,
                (task.flow, task.run_id, task.task_id, a.name, a.key, a.encoding, a.size, a.type,
                 _dump(a.metadata), a.inline, row_value(a)),
            )  # fmt: skip
        _insert_attempt(cur, task.run_id, attempt_of(task))
    for _ in batch:  # every row sent, nothing committed: a crash here shows no task
        fault_point("commit-task")


_LAPSED = "asyncflow lease lapsed"


def _check_alive(cur: psycopg.Cursor[Any], owner: str, seconds: float) -> None:
    """Renew ``owner``'s lease inside the commit's transaction, or fail it if the lease
    has expired. Written to fail rather than to be read back (a text that is not a
    number, cast to one, on the one row there is when the lease is gone), so the
    pipelined commit still costs one round trip. The volatile ``clock_timestamp()`` in
    the text keeps the planner from evaluating the cast before the WHERE."""
    cur.execute(f"SELECT pg_advisory_xact_lock_shared({_LOCK_ARGS})", (_GC_LOCK,))
    cur.execute(
        f"UPDATE owners SET expires_at = {_NOW} + %s WHERE owner = %s AND expires_at >= {_NOW}",
        (seconds, owner),
    )
    cur.execute(
        "SELECT (%s || clock_timestamp()::text)::int WHERE NOT EXISTS "
        f"(SELECT 1 FROM owners WHERE owner = %s AND expires_at >= {_NOW})",
        (_LAPSED, owner),
    )


def _check_fence(cur: psycopg.Cursor[Any], task: TaskRecord) -> None:
    row = cur.execute(Q.fence_get, (task.run_id, task.task_id)).fetchone()
    if row is None or row[0] != task.attempt:
        raise StaleAttemptError(task.pathspec, task.attempt, None if row is None else row[0])


def _insert_logs(
    cur: psycopg.Cursor[Any], run_id: int, task_id: int, attempt: int, logs: dict[str, str]
) -> None:
    if logs:
        cur.executemany(
            Q.log_upsert,
            [(run_id, task_id, attempt, stream, text) for stream, text in logs.items()],
        )


def _insert_attempt(cur: psycopg.Cursor[Any], run_id: int, a: AttemptRecord) -> None:
    cur.execute(
        Q.attempt_upsert,
        (run_id, a.task_id, a.attempt, a.status, a.started_at, a.finished_at),
    )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        row[0], int(row[1]), row[2], row[3], list(row[4]), list(row[5]), json.loads(row[6]),
        row[7], row[8], row[9], row[10], row[11],
    )  # fmt: skip


def _task(row: tuple[Any, ...]) -> TaskRecord:
    return TaskRecord(
        row[0], int(row[1]), row[2], int(row[3]), row[4], row[5], row[6], row[7],
        json.loads(row[8]), json.loads(row[9]), row[10],
        None if row[11] is None else int(row[11]),
    )  # fmt: skip


def _card(r: Sequence[Any]) -> CardRecord:
    return CardRecord(
        r[0], int(r[1]), r[2], int(r[3]), r[4], r[5], r[6], r[7], int(r[8]), float(r[9]),
        bool(r[10]),
    )  # fmt: skip
