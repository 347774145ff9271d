"""The SQL the SQLite and the PostgreSQL metadata stores share, written once.

Each query is written with ``?`` placeholders; a :class:`Dialect` turns it into its
backend's text (``%s`` for psycopg) and supplies the few parts that differ: the upsert,
the ids of a JSON array, what "no limit" is. :class:`Queries` holds one backend's texts,
built once at import (``SQLITE_QUERIES``, ``POSTGRES_QUERIES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ATTEMPT_COLUMNS",
    "CARD_COLUMNS",
    "POSTGRES",
    "POSTGRES_QUERIES",
    "RUN_COLUMNS",
    "SQLITE",
    "SQLITE_QUERIES",
    "TASK_COLUMNS",
    "Dialect",
    "Queries",
]

#: ``"user"`` quoted: a reserved word in PostgreSQL, a plain name in SQLite.
RUN_COLUMNS = (
    'flow, run_id, status, "user", tags, system_tags, params, created_at, finished_at, '
    "origin_run_id, exception, failed_pathspec"
)
TASK_COLUMNS = (
    "flow, run_id, step, task_id, status, attempt, started_at, finished_at, foreach_stack, "
    "parents, exception, origin_task_id"
)
ATTEMPT_COLUMNS = "task_id, attempt, status, started_at, finished_at"
_LOG_COLUMNS = "run_id, task_id, attempt, stream, data"
CARD_COLUMNS = "flow, run_id, step, task_id, hash, type, card_id, key, size, created_at, runtime"


@dataclass(frozen=True)
class Dialect:
    """What one backend's SQL spells its own way."""

    #: The placeholder of a parameter.
    mark: str
    #: The LIMIT that lists every row.
    no_limit: int | None
    #: A FROM item listing the ids in a task's ``parents`` (a JSON array) as ``j``, and
    #: the expression of one of them.
    parent_ids: str
    parent_id: str
    #: The join from a task to its parents: SQLite's CROSS JOIN fixes the loop order (see
    #: ``Queries.step_edges``); PostgreSQL's planner finds the parents by key itself.
    ordered_join: str
    #: True: ``INSERT OR REPLACE`` / ``OR IGNORE``; False: ``ON CONFLICT ... DO ...``.
    or_replace: bool
    #: Appended to the INSERT of a run so it gives back the new run's id ("": lastrowid).
    returning_run_id: str
    #: ``AND`` a run has a tag among its user or system tags, in this backend's text (not
    #: passed through :meth:`sql`: PostgreSQL's ``?`` there is the jsonb operator).
    has_tag: str
    #: Appended to a SELECT inside a write to lock the rows it reads ("": SQLite's write
    #: transaction holds the whole database already).
    for_update: str
    #: True: ``column IN (?, ?, ...)``, one parameter an id; False: ``column = ANY(?)``.
    expands_ids: bool

    def sql(self, text: str) -> str:
        """``text`` (written with ``?``) with this backend's placeholders."""
        return text if self.mark == "?" else text.replace("?", self.mark)

    def upsert(
        self, table: str, columns: str, key: Sequence[str], *, in_place: bool = False
    ) -> str:
        """Insert a row of ``columns``, or replace the one with the same ``key``
        (``in_place``: update that row, in SQLite too, where a REPLACE deletes it and
        inserts a new one, with a new rowid)."""
        names = [c.strip() for c in columns.split(",")]
        marks = ", ".join([self.mark] * len(names))
        if self.or_replace and not in_place:
            return f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})"
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key)
        return (
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )

    def insert_new(self, table: str, columns: str) -> str:
        """Insert a row of ``columns`` unless one with its key is there already."""
        marks = ", ".join([self.mark] * len(columns.split(",")))
        if self.or_replace:
            return f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})"
        return f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"

    def in_ids(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        """The condition ``column`` is one of ``ids`` (not empty), and its arguments."""
        if self.expands_ids:
            return f"{column} IN ({', '.join([self.mark] * len(ids))})", list(ids)
        return f"{column} = ANY({self.mark})", [list(ids)]


SQLITE = Dialect(
    mark="?", no_limit=-1, parent_ids="json_each(t.parents) AS j", parent_id="j.value",
    ordered_join="CROSS JOIN", or_replace=True, returning_run_id="",
    has_tag=" AND (? IN (SELECT value FROM json_each(tags))"
    " OR ? IN (SELECT value FROM json_each(system_tags)))",
    for_update="", expands_ids=True,
)  # fmt: skip
POSTGRES = Dialect(
    mark="%s", no_limit=None,
    parent_ids="LATERAL jsonb_array_elements_text(t.parents::jsonb) AS j(id)",
    parent_id="j.id::bigint", ordered_join="JOIN", or_replace=False,
    returning_run_id=" RETURNING run_id", has_tag=" AND (tags ? %s OR system_tags ? %s)",
    for_update=" FOR UPDATE", expands_ids=False,
)  # fmt: skip


class Queries:
    """One backend's text of every shared query."""

    def __init__(self, dialect: Dialect) -> None:
        d = self.dialect = dialect
        self.flow_insert = d.insert_new("flows", "name, created_at")
        self.run_insert = d.sql(
            'INSERT INTO runs (flow, status, "user", tags, system_tags, params, created_at, '
            "origin_run_id) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)" + d.returning_run_id
        )
        self.graph_insert = d.sql("INSERT INTO run_graphs (run_id, graph) VALUES (?, ?)")
        self.graph_get = d.sql("SELECT graph FROM run_graphs WHERE run_id=?")
        self.run_get = d.sql(f"SELECT {RUN_COLUMNS} FROM runs WHERE flow=? AND run_id=?")
        self.run_owner_get = d.sql("SELECT host, pid FROM run_owners WHERE run_id=?")
        self.flow_list = "SELECT name FROM flows ORDER BY name"
        usage = (
            "SELECT a.key, a.flow, a.run_id, t.step, a.task_id, a.name, {} FROM artifacts a "
            "JOIN tasks t ON t.run_id = a.run_id AND t.task_id = a.task_id "
            "WHERE {} ORDER BY a.key, a.run_id, a.task_id, a.name"
        )
        #: Every artifact stored inline or not (``?``), its size, for ``artifact_usages``.
        self.artifact_usages = d.sql(usage.format("a.size", "a.inline=?"))
        #: Every inline value kept in its artifact's row, its bytes, for ``row_values``.
        self.row_values = usage.format("a.data", "a.data IS NOT NULL")
        self.tags_get = d.sql("SELECT tags FROM runs WHERE flow=? AND run_id=?") + d.for_update
        self.tags_set = d.sql("UPDATE runs SET tags=? WHERE flow=? AND run_id=?")
        self.run_finish = d.sql(
            "UPDATE runs SET status=?, finished_at=?, exception=?, failed_pathspec=? "
            "WHERE flow=? AND run_id=?"
        )
        self.task_upsert = d.upsert("tasks", TASK_COLUMNS, ("run_id", "task_id"))
        self.attempt_upsert = d.upsert(
            "attempts", f"run_id, {ATTEMPT_COLUMNS}", ("run_id", "task_id", "attempt")
        )
        self.task_start_insert = d.insert_new(
            "task_starts", "run_id, task_id, step, foreach_stack, parents"
        )
        self.log_upsert = d.upsert("logs", _LOG_COLUMNS, ("run_id", "task_id", "attempt", "stream"))
        self.fence_upsert = d.upsert(
            "task_fences", "run_id, task_id, attempt", ("run_id", "task_id")
        )
        self.fence_get = (
            d.sql("SELECT attempt FROM task_fences WHERE run_id=? AND task_id=?") + d.for_update
        )
        #: In place: a card keeps its position (``seq``) when its final render replaces it.
        self.card_upsert = d.upsert(
            "cards", CARD_COLUMNS, ("run_id", "task_id", "hash"), in_place=True
        )
        self.card_list = d.sql(
            f"SELECT {CARD_COLUMNS} FROM cards WHERE flow=? AND run_id=? AND task_id=? ORDER BY seq"
        )
        self.task_get = d.sql(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow=? AND run_id=? AND step=? AND task_id=?"
        )
        self.step_groups = d.sql(
            "SELECT step, status, count(*), min(started_at), max(finished_at), min(task_id), "
            "max(CASE WHEN foreach_stack <> '[]' THEN 1 ELSE 0 END) FROM tasks "
            "WHERE flow=? AND run_id=? GROUP BY step, status"
        )
        #: ``(parent step, step)`` of a run's tasks. In SQLite the CROSS JOIN fixes the
        #: loop order, so each parent is found by primary key (SQLite's planner otherwise
        #: scans the run's tasks once per parent: quadratic in a foreach).
        self.step_edges = d.sql(
            f"SELECT DISTINCT p.step, t.step FROM tasks t CROSS JOIN {d.parent_ids} "
            f"{d.ordered_join} tasks p ON p.run_id = t.run_id AND p.task_id = {d.parent_id} "
            "WHERE t.flow=? AND t.run_id=?"
        )
        #: Registered tasks of a run (``?``) without a committed row, and their last attempt.
        self.unfinished = d.sql(
            "SELECT s.task_id, s.step, s.foreach_stack, s.parents, (SELECT MAX(a.attempt) FROM "
            "attempts a WHERE a.run_id = s.run_id AND a.task_id = s.task_id) FROM task_starts s "
            "WHERE s.run_id = ? AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = s.run_id "
            "AND t.task_id = s.task_id) ORDER BY s.task_id"
        )
        #: The largest task id a run used, wherever a task left a trace (the run id, 4 times).
        self.last_task_id = d.sql(
            "SELECT COALESCE(MAX(m), 0) FROM ("
            + " UNION ALL ".join(
                f"SELECT MAX(task_id) AS m FROM {table} WHERE run_id=?"
                for table in ("tasks", "attempts", "logs", "task_fences")
            )
            + ") AS used"
        )

    def list_tasks(
        self, flow: str, run_id: int, step: str | None, limit: int | None, offset: int
    ) -> tuple[str, list[Any]]:
        """The query and arguments of a run's committed tasks (of ``step`` if given), in
        task id order, ``limit`` of them after ``offset``."""
        where, args = self._tasks_of(flow, run_id, step)
        sql = f"SELECT {TASK_COLUMNS} FROM tasks{where} ORDER BY task_id LIMIT ? OFFSET ?"
        limit = self.dialect.no_limit if limit is None else limit
        return self.dialect.sql(sql), [*args, limit, offset]

    def count_tasks(self, flow: str, run_id: int, step: str | None) -> tuple[str, list[Any]]:
        """The query and arguments counting what :meth:`list_tasks` lists."""
        where, args = self._tasks_of(flow, run_id, step)
        return self.dialect.sql(f"SELECT count(*) FROM tasks{where}"), args

    def list_runs(
        self,
        flow: str,
        tags: Sequence[str],
        status: str | None,
        limit: int | None,
        offset: int,
        since: float | None,
        until: float | None,
    ) -> tuple[str, list[Any]]:
        """The query and arguments of a flow's runs having every one of ``tags``,
        ``status`` and a creation time in ``[since, until]`` if given, newest first,
        ``limit`` of them after ``offset``."""
        where, args = self._runs_of(flow, tags, status, since, until)
        sql = f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY run_id DESC"
        limit = self.dialect.no_limit if limit is None else limit
        return sql + self.dialect.sql(" LIMIT ? OFFSET ?"), [*args, limit, offset]

    def count_runs(
        self, flow: str, tags: Sequence[str], status: str | None
    ) -> tuple[str, list[Any]]:
        """The query and arguments counting what :meth:`list_runs` lists."""
        where, args = self._runs_of(flow, tags, status, None, None)
        return f"SELECT count(*) FROM runs{where}", args

    def _runs_of(
        self,
        flow: str,
        tags: Sequence[str],
        status: str | None,
        since: float | None,
        until: float | None,
    ) -> tuple[str, list[Any]]:
        # Each part in the backend's text already: has_tag must not pass through sql().
        d = self.dialect
        sql = d.sql(" WHERE flow=?")
        args: list[Any] = [flow]
        for tag in tags:
            sql += d.has_tag
            args += [tag, tag]
        for condition, value in (("status=?", status), ("created_at>=?", since),
                                 ("created_at<=?", until)):  # fmt: skip
            if value is not None:
                sql += d.sql(f" AND {condition}")
                args.append(value)
        return sql, args

    def get_logs(
        self, run_id: int, task_id: int, stream: str, attempt: int | None
    ) -> tuple[str, list[Any]]:
        """The query and arguments of what a task printed to ``stream`` in ``attempt``
        (None: its latest attempt with that stream)."""
        sql = "SELECT data FROM logs WHERE run_id=? AND task_id=? AND stream=?"
        args: list[Any] = [run_id, task_id, stream]
        if attempt is not None:
            sql += " AND attempt=?"
            args.append(attempt)
        return self.dialect.sql(sql + " ORDER BY attempt DESC LIMIT 1"), args

    def list_attempts(self, run_id: int, task_ids: Sequence[int]) -> tuple[str, list[Any]]:
        """The query and arguments of the attempts of ``task_ids`` (not empty), by task
        id then attempt."""
        ids, args = self.dialect.in_ids("task_id", task_ids)
        sql = self.dialect.sql(f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id=? AND ")
        return f"{sql}{ids} ORDER BY task_id, attempt", [run_id, *args]

    @staticmethod
    def _tasks_of(flow: str, run_id: int, step: str | None) -> tuple[str, list[Any]]:
        if step is None:
            return " WHERE flow=? AND run_id=?", [flow, run_id]
        return " WHERE flow=? AND run_id=? AND step=?", [flow, run_id, step]


SQLITE_QUERIES = Queries(SQLITE)
POSTGRES_QUERIES = Queries(POSTGRES)
