"""The metadata schema and its migrations, tracked with SQLite's ``user_version``."""

from __future__ import annotations

import sqlite3

from ..exceptions import DatastoreError

__all__ = ["MIGRATIONS", "migrate"]

#: Each entry upgrades the schema by one version; never edit a released entry.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE flows (
        name TEXT PRIMARY KEY,
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL REFERENCES flows(name),
        status TEXT NOT NULL,
        user TEXT NOT NULL,
        tags TEXT NOT NULL,
        system_tags TEXT NOT NULL,
        params TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL,
        origin_run_id INTEGER,
        exception TEXT,
        failed_pathspec TEXT
    );
    CREATE INDEX runs_by_flow ON runs(flow, run_id);
    CREATE TABLE tasks (
        flow TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        step TEXT NOT NULL,
        task_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        foreach_stack TEXT NOT NULL,
        parents TEXT NOT NULL,
        exception TEXT,
        PRIMARY KEY (run_id, task_id)
    );
    CREATE INDEX tasks_by_step ON tasks(run_id, step);
    CREATE TABLE artifacts (
        flow TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        encoding TEXT NOT NULL,
        size INTEGER NOT NULL,
        type TEXT NOT NULL,
        metadata TEXT NOT NULL,
        inline INTEGER NOT NULL,
        PRIMARY KEY (run_id, task_id, name),
        FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id)
    );
    CREATE INDEX artifacts_by_key ON artifacts(key);
    CREATE TABLE logs (
        run_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        stream TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, task_id, attempt, stream)
    );
    CREATE TABLE inline_blobs (
        key TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    """,
    # 2: which process runs a run, so the client can tell a crashed run from a live one.
    """
    CREATE TABLE run_owners (
        run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),
        host TEXT NOT NULL,
        pid INTEGER NOT NULL
    );
    """,
    # 3: the attempt of a task that may commit, for executors that can run an attempt twice.
    """
    CREATE TABLE task_fences (
        run_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    """,
    # 4: cards (asyncflow/cards): one row per rendered card, its HTML a blob.
    """
    CREATE TABLE cards (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        step TEXT NOT NULL,
        task_id INTEGER NOT NULL,
        hash TEXT NOT NULL,
        type TEXT NOT NULL,
        card_id TEXT,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL,
        runtime INTEGER NOT NULL,
        UNIQUE (run_id, task_id, hash)
    );
    CREATE INDEX cards_by_key ON cards(key);
    """,
    # 5: which task of the origin run a resumed run's task copies (None: it ran).
    """
    ALTER TABLE tasks ADD COLUMN origin_task_id INTEGER;
    """,
    # 6: each attempt of a task and its times; the flow's graph, recorded as a run starts.
    """
    CREATE TABLE attempts (
        run_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        PRIMARY KEY (run_id, task_id, attempt)
    );
    CREATE TABLE run_graphs (
        run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),
        graph TEXT NOT NULL
    );
    """,
    # 7: a task that recorded a failed attempt, before it commits: where it is in the graph.
    """
    CREATE TABLE task_starts (
        run_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        step TEXT NOT NULL,
        foreach_stack TEXT NOT NULL,
        parents TEXT NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    """,
    # 8: a small inline value in its artifact's row (``data``), not in inline_blobs, and an
    # index of blob-file keys only: a content hash indexed per task puts each task's rows
    # on pages of their own, so the pages a commit dirties grew with the run.
    """
    ALTER TABLE artifacts ADD COLUMN data BLOB;
    DROP INDEX artifacts_by_key;
    CREATE INDEX artifacts_by_blob_key ON artifacts(key) WHERE inline = 0;
    """,
]


def migrate(cur: sqlite3.Cursor, target: int | None = None) -> int:
    """Bring the database to the latest schema (or to version ``target``) inside the
    caller's transaction; return the version reached."""
    version = int(cur.execute("PRAGMA user_version").fetchone()[0])
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
        cur.execute(f"PRAGMA user_version = {index + 1}")
    return max(version, last)
