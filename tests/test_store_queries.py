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


@pytest.mark.parametrize("queries", [SQLITE_QUERIES, POSTGRES_QUERIES], ids=["sqlite", "pg"])
def test_run_log_and_attempt_queries_bind_one_argument_per_placeholder(queries: Queries) -> None:
    mark = queries.dialect.mark
    sql, args = queries.list_runs("F", ["a", "b"], "done", None, 3, 1.0, 2.0)
    # PostgreSQL's jsonb ``?`` operator stays itself beside the %s placeholders.
    assert sql.count(mark) == len(args) == 10 and args[-2:] == [queries.dialect.no_limit, 3]
    sql, args = queries.count_runs("F", ["a"], None)
    assert sql.count(mark) == len(args) == 3 and "LIMIT" not in sql
    for attempt in (None, 2):
        sql, args = queries.get_logs(1, 2, "stdout", attempt)
        assert sql.count(mark) == len(args) and ("attempt=" in sql) == (attempt is not None)
    sql, args = queries.list_attempts(1, [4, 5, 6])
    assert sql.count(mark) == len(args) == (4 if queries.dialect.expands_ids else 2)


def test_postgres_keeps_the_jsonb_tag_operator_and_locks_what_a_write_reads() -> None:
    sql = POSTGRES_QUERIES.list_runs("F", ["a"], None, None, 0, None, None)[0]
    assert "tags ? %s OR system_tags ? %s" in sql
    assert POSTGRES_QUERIES.fence_get.endswith(" FOR UPDATE")
    assert POSTGRES_QUERIES.tags_get.endswith(" FOR UPDATE")
    assert "FOR UPDATE" not in SQLITE_QUERIES.fence_get + SQLITE_QUERIES.tags_get
    assert POSTGRES_QUERIES.list_attempts(1, [4, 5])[1] == [1, [4, 5]]


def test_a_card_is_updated_in_place_in_both_backends() -> None:
    # SQLite's INSERT OR REPLACE would delete the row and give it a new seq: a final render
    # would move behind the task's other cards.
    for queries in (SQLITE_QUERIES, POSTGRES_QUERIES):
        assert "OR REPLACE" not in queries.card_upsert
        assert "ON CONFLICT (run_id, task_id, hash) DO UPDATE SET" in queries.card_upsert
        assert "runtime = EXCLUDED.runtime" in queries.card_upsert
    assert SQLITE_QUERIES.fence_upsert == (
        "INSERT OR REPLACE INTO task_fences (run_id, task_id, attempt) VALUES (?, ?, ?)"
    )
    assert POSTGRES_QUERIES.fence_upsert == (
        "INSERT INTO task_fences (run_id, task_id, attempt) VALUES (%s, %s, %s) "
        "ON CONFLICT (run_id, task_id) DO UPDATE SET attempt = EXCLUDED.attempt"
    )
