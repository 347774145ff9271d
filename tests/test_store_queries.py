"""The shared SQL of the metadata stores: each backend's text binds what it is given."""

from __future__ import annotations

import pytest

from asyncflow.store.queries import POSTGRES, POSTGRES_QUERIES, SQLITE, SQLITE_QUERIES, Queries


@pytest.mark.parametrize("queries", [SQLITE_QUERIES, POSTGRES_QUERIES], ids=["sqlite", "pg"])
@pytest.mark.parametrize("step", [None, "work"])
def test_task_listing_binds_one_argument_per_placeholder(
    queries: Queries, step: str | None
) -> None:
    mark = queries.dialect.mark
    for sql, args in (queries.list_tasks("F", 1, step, None, 0), queries.count_tasks("F", 1, step)):
        assert sql.count(mark) == len(args)
        assert ("step=" in sql) == (step is not None)
    assert queries.list_tasks("F", 1, step, None, 5)[1][-2:] == [queries.dialect.no_limit, 5]


def test_each_backend_gets_its_own_placeholders_and_upsert() -> None:
    assert "%s" not in SQLITE_QUERIES.task_upsert and "?" not in POSTGRES_QUERIES.task_upsert
    assert SQLITE_QUERIES.attempt_upsert == (
        "INSERT OR REPLACE INTO attempts (run_id, task_id, attempt, status, started_at, "
        "finished_at) VALUES (?, ?, ?, ?, ?, ?)"
    )
    assert POSTGRES_QUERIES.attempt_upsert == (
        "INSERT INTO attempts (run_id, task_id, attempt, status, started_at, finished_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET "
        "status = EXCLUDED.status, started_at = EXCLUDED.started_at, "
        "finished_at = EXCLUDED.finished_at"
    )
    assert SQLITE.insert_new("flows", "name, created_at") == (
        "INSERT OR IGNORE INTO flows (name, created_at) VALUES (?, ?)"
    )
    assert POSTGRES.insert_new("flows", "name, created_at") == (
        "INSERT INTO flows (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert POSTGRES_QUERIES.run_insert.endswith(" RETURNING run_id")
    assert "RETURNING" not in SQLITE_QUERIES.run_insert
