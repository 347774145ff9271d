"""The PostgreSQL metadata schema and its migrations, tracked in ``schema_version``.

The same tables as SQLite's (:mod:`.schema`), plus what several hosts need:
``owners`` (one row per writing process, its lease expiring unless its heartbeat
renews it), ``run_owners`` pointing runs at their owner, and ``blob_leases``.
Times in those rows come from the database's clock, so hosts need not agree on theirs.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import DatastoreError

__all__ = ["MIGRATIONS", "migrate"]

#: An advisory lock id (any constant): held while a process migrates the schema.
_MIGRATE_LOCK = 0x6166_6D69

#: Each entry upgrades the schema by one version; never edit a released entry.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE flows (
        name TEXT PRIMARY KEY,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE runs (
        run_id BIGSERIAL PRIMARY KEY,
        flow TEXT NOT NULL REFERENCES flows(name),
        status TEXT NOT NULL,
        "user" TEXT NOT NULL,
        tags JSONB NOT NULL,
        system_tags JSONB NOT NULL,
        params TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        origin_run_id BIGINT,
        exception TEXT,
        failed_pathspec TEXT
    );
    CREATE INDEX runs_by_flow ON runs(flow, run_id);
    CREATE TABLE tasks (
        flow TEXT NOT NULL,
        run_id BIGINT NOT NULL REFERENCES runs(run_id),
        step TEXT NOT NULL,
        task_id BIGINT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        foreach_stack TEXT NOT NULL,
        parents TEXT NOT NULL,
        exception TEXT,
        PRIMARY KEY (run_id, task_id)
    );
    CREATE INDEX tasks_by_step ON tasks(run_id, step);
    CREATE TABLE artifacts (
        flow TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        task_id BIGINT NOT NULL,
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        encoding TEXT NOT NULL,
        size BIGINT NOT NULL,
        type TEXT NOT NULL,
        metadata TEXT NOT NULL,
        inline BOOLEAN NOT NULL,
        PRIMARY KEY (run_id, task_id, name),
        FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id)
    );
    CREATE INDEX artifacts_by_key ON artifacts(key);
    CREATE TABLE logs (
        run_id BIGINT NOT NULL,
        task_id BIGINT NOT NULL,
        attempt INTEGER NOT NULL,
        stream TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, task_id, attempt, stream)
    );
    CREATE TABLE inline_blobs (
        key TEXT PRIMARY KEY,
        data BYTEA NOT NULL
    );
    CREATE TABLE owners (
        owner TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE run_owners (
        run_id BIGINT PRIMARY KEY REFERENCES runs(run_id),
        owner TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL
    );
    CREATE TABLE blob_leases (
        owner TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (owner, key)
    );
    CREATE INDEX blob_leases_by_key ON blob_leases(key);
    """,
    # 2: the attempt of a task that may commit, for executors that can run an attempt twice.
    """
    CREATE TABLE task_fences (
        run_id BIGINT NOT NULL,
        task_id BIGINT NOT NULL,
        attempt INTEGER NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    """,
    # 3: cards (asyncflow/cards): one row per rendered card, its HTML a blob.
    """
    CREATE TABLE cards (
        seq BIGSERIAL PRIMARY KEY,
        flow TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        step TEXT NOT NULL,
        task_id BIGINT NOT NULL,
        hash TEXT NOT NULL,
        type TEXT NOT NULL,
        card_id TEXT,
        key TEXT NOT NULL,
        size BIGINT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        runtime BOOLEAN NOT NULL,
        UNIQUE (run_id, task_id, hash)
    );
    CREATE INDEX cards_by_key ON cards(key);
    """,
    # 4: which task of the origin run a resumed run's task copies (None: it ran).
    """
    ALTER TABLE tasks ADD COLUMN origin_task_id BIGINT;
    """,
    # 5: each attempt of a task and its times; the flow's graph, recorded as a run starts.
    """
    CREATE TABLE attempts (
        run_id BIGINT NOT NULL,
        task_id BIGINT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        PRIMARY KEY (run_id, task_id, attempt)
    );
    CREATE TABLE run_graphs (
        run_id BIGINT PRIMARY KEY REFERENCES runs(run_id),
        graph TEXT NOT NULL
    );
    """,
    # 6: a task that recorded a failed attempt, before it commits: where it is in the graph.
    """
    CREATE TABLE task_starts (
        run_id BIGINT NOT NULL,
        task_id BIGINT NOT NULL,
        step TEXT NOT NULL,
        foreach_stack TEXT NOT NULL,
        parents TEXT NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    """,
    # 7: a small inline value in its artifact's row (as SQLite's schema 8): no content-keyed
    # index entry per task; blob-file keys keep theirs for the collector.
    """
    ALTER TABLE artifacts ADD COLUMN data BYTEA;
    DROP INDEX artifacts_by_key;
    CREATE INDEX artifacts_by_blob_key ON artifacts(key) WHERE NOT inline;
    """,
]


def migrate(cur: Any, target: int | None = None) -> int:
    """Bring the schema (in the connection's ``search_path``) to the latest version, or
    to ``target``, inside the caller's transaction; return the version reached.

    Concurrent first openers wait for each other on an advisory lock.
    """
    cur.execute(
        "SELECT pg_advisory_xact_lock(%s::int4, hashtext(current_setting('search_path')))",
        (_MIGRATE_LOCK,),
    )
    cur.execute("CREATE SCHEMA IF NOT EXISTS " + _current_schema(cur))
    cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = cur.execute("SELECT max(version) FROM schema_version").fetchone()
    version = int(row[0] or 0)
    if version > len(MIGRATIONS):
        raise DatastoreError(
            f"the metadata database has schema version {version}, newer than this asyncflow "
            f"understands ({len(MIGRATIONS)}); upgrade asyncflow"
        )
    last = len(MIGRATIONS) if target is None else target
    for index in range(version, last):
        for statement in MIGRATIONS[index].split(";"):
            if statement.strip():
                cur.execute(statement)
        cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (index + 1,))
    return max(version, last)


def _current_schema(cur: Any) -> str:
    """The first schema of the search path, quoted (it may not exist yet)."""
    path = str(cur.execute("SHOW search_path").fetchone()[0])
    first = path.split(",")[0].strip()
    if first in ('"$user"', "$user"):
        first = "public"
    return '"' + first.strip('"').replace('"', '""') + '"'
