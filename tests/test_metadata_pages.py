"""Paged and summed-up metadata queries, the same on SQLite and PostgreSQL: runs of a
flow and tasks of a step by page, counts, step summaries, the artifacts of many tasks
(what a join reads of its parents). Checked by what each query fetches (rows and SQL),
never by how long it takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from asyncflow.store import (
    ArtifactRef,
    AttemptRecord,
    MetadataStore,
    SQLiteMetadataStore,
    TaskRecord,
)
from asyncflow.store.metadata import ROW_VALUE_MAX

from .servers import Postgres


@pytest.fixture(params=["sqlite", "postgres"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    store: MetadataStore
    if request.param == "sqlite":
        store = SQLiteMetadataStore(tmp_path / "meta.db")
    else:
        from asyncflow.store.postgres import PostgresMetadataStore

        pg: Postgres = request.getfixturevalue("postgres_server")
        store = PostgresMetadataStore(pg.fresh_url())
    yield store
    store.close()


class Fetched:
    """Every query the store reads with, and how many rows each returned."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.queries: list[tuple[str, int]] = []
        read = store._read

        def counting(sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = read(sql, args)
            self.queries.append((sql, len(rows)))
            return rows

        monkeypatch.setattr(store, "_read", counting)

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.queries)


def _fan_run(meta: MetadataStore, width: int, failed: Sequence[int] = ()) -> int:
    """start -> fan (a foreach of ``width``) -> join, committed as the engine would."""
    run = meta.create_run("P", "ann", {}, [], ["user:ann"]).run_id
    meta.commit_task(TaskRecord("P", run, "start", 1, "successful", 0, 10.0, 11.0), [])
    for i in range(width):
        frame = [{"step": "start", "var": "x", "index": i, "num_splits": width}]
        status = "failed" if i in failed else "successful"
        task = TaskRecord("P", run, "fan", 2 + i, status, 0, 11.0 + i, 12.0 + i, frame, [1])
        meta.commit_task(task, [])
    parents = list(range(2, 2 + width))
    join = TaskRecord("P", run, "join", 2 + width, "successful", 0, 90.0, 95.0, [], parents)
    meta.commit_task(join, [])
    return run


def test_runs_page_by_offset_newest_first_and_counted_by_the_store(
    meta: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [meta.create_run("P", "ann", {}, ["even"] if i % 2 == 0 else [], []).run_id
           for i in range(25)]  # fmt: skip
    meta.finish_run("P", ids[4], "failed")
    newest_first = ids[::-1]
    pages = [meta.list_runs("P", limit=10, offset=o) for o in (0, 10, 20, 30)]
    assert [[r.run_id for r in p] for p in pages] == [
        newest_first[:10], newest_first[10:20], newest_first[20:], []
    ]  # fmt: skip
    evens = [r.run_id for r in meta.list_runs("P", tags=["even"], limit=5, offset=5)]
    assert evens == [i for n, i in enumerate(ids) if n % 2 == 0][::-1][5:10]
    assert meta.count_runs("P") == 25
    assert meta.count_runs("P", tags=["even"]) == 13
    assert meta.count_runs("P", status="failed") == 1
    assert meta.count_runs("P", status="running", tags=["even"]) == 12
    assert meta.count_runs("Nobody") == 0

    fetched = Fetched(meta, monkeypatch)
    assert len(meta.list_runs("P", limit=3, offset=20)) == 3
    assert fetched.rows == 3 and "LIMIT" in fetched.queries[0][0]


def test_runs_filtered_by_creation_time_in_the_store(meta: MetadataStore) -> None:
    runs = [meta.create_run("P", "ann", {}, [], []) for _ in range(3)]
    middle = runs[1].created_at
    inside = meta.list_runs("P", since=middle, until=middle)
    assert [r.run_id for r in inside] == [runs[1].run_id]
    later = meta.list_runs("P", since=middle)
    assert [r.run_id for r in later] == [runs[2].run_id, runs[1].run_id]
    assert [r.run_id for r in meta.list_runs("P", until=runs[0].created_at)] == [runs[0].run_id]


def test_tasks_of_a_step_by_page_and_counted(
    meta: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _fan_run(meta, 30)
    fan = [t.task_id for t in meta.list_tasks("P", run, "fan", limit=7, offset=21)]
    assert fan == list(range(23, 30))
    everything = [t.task_id for t in meta.list_tasks("P", run, limit=5, offset=30)]
    assert everything == [31, 32]  # the last fan task, then the join
    assert meta.list_tasks("P", run, "fan", limit=10, offset=100) == []
    assert len(meta.list_tasks("P", run)) == 32  # no limit: all of them
    assert meta.count_tasks("P", run) == 32
    assert meta.count_tasks("P", run, "fan") == 30
    assert meta.count_tasks("P", run, "nothing") == 0

    fetched = Fetched(meta, monkeypatch)
    meta.list_tasks("P", run, "fan", limit=4, offset=10)
    assert fetched.rows == 4 and "LIMIT" in fetched.queries[0][0]


def test_step_stats_sum_up_a_foreach_without_fetching_its_tasks(
    meta: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _fan_run(meta, 300, failed=[5, 7])
    fetched = Fetched(meta, monkeypatch)
    stats = meta.step_stats("P", run)
    assert fetched.rows <= 8  # a row per (step, status) and per edge, not per task
    assert [s.step for s in stats] == ["start", "fan", "join"]
    start, fan, join = stats
    assert fan.statuses == {"successful": 298, "failed": 2} and fan.tasks == 300
    assert (fan.started_at, fan.finished_at, fan.first_task_id) == (11.0, 311.0, 2)
    assert fan.foreach and not start.foreach and not join.foreach
    assert start.parent_steps == frozenset()
    assert fan.parent_steps == {"start"} and join.parent_steps == {"fan"}
    assert meta.step_stats("P", run + 1000) == []


def test_each_attempt_is_kept_with_its_times(meta: MetadataStore) -> None:
    run = meta.create_run("P", "ann", {}, [], []).run_id
    failed = AttemptRecord(1, 0, "failed", 10.0, 11.0)
    meta.put_attempt(run, failed, {"stdout": "first", "stderr": "boom"})
    task = TaskRecord("P", run, "start", 1, "successful", 1, 10.0, 14.0, attempt_started_at=12.5)
    meta.commit_task(task, [], {"stdout": "second"})
    meta.commit_task(TaskRecord("P", run, "end", 2, "successful", 0, 15.0, 16.0), [])
    assert meta.list_attempts(run, [1, 2, 99]) == [
        failed,
        AttemptRecord(1, 1, "successful", 12.5, 14.0),
        AttemptRecord(2, 0, "successful", 15.0, 16.0),  # no attempt start: the task's start
    ]
    assert meta.list_attempts(run, [2]) == [AttemptRecord(2, 0, "successful", 15.0, 16.0)]
    assert meta.list_attempts(run, []) == []
    assert meta.get_logs("P", run, 1, "stderr", attempt=0) == "boom"
    assert meta.get_logs("P", run, 1, "stdout") == "second"


def test_a_run_keeps_the_graph_it_started_with(meta: MetadataStore) -> None:
    graph = {"steps": [{"name": "start", "kind": "foreach", "next": ["fan"], "foreach": "xs"},
                       {"name": "fan", "kind": "linear", "next": ["end"], "foreach": None},
                       {"name": "end", "kind": "end", "next": [], "foreach": None}]}  # fmt: skip
    with_graph = meta.create_run("P", "ann", {}, [], [], graph=graph).run_id
    without = meta.create_run("P", "ann", {}, [], []).run_id
    assert meta.get_run_graph(with_graph) == graph
    assert meta.get_run_graph(without) is None


def test_a_postgres_schema_of_the_version_before_migrates_to_attempts_and_graphs(
    postgres_server: Postgres,
) -> None:
    import psycopg

    from asyncflow.store.postgres import PostgresMetadataStore
    from asyncflow.store.postgres_schema import MIGRATIONS, migrate

    url = postgres_server.fresh_url()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        assert migrate(cur, target=len(MIGRATIONS) - 1) == len(MIGRATIONS) - 1
        cur.execute("INSERT INTO flows VALUES ('F', 1.0)")
        cur.execute(
            'INSERT INTO runs (flow, status, "user", tags, system_tags, params, created_at) '
            "VALUES ('F', 'successful', 'ann', '[]', '[]', '{}', 2.0)"
        )
    store = PostgresMetadataStore(url)
    try:
        assert store._read("SELECT max(version) FROM schema_version")[0][0] == len(MIGRATIONS)
        assert store.get_run_graph(1) is None and store.list_attempts(1, [1]) == []
        assert store.get_run("F", 1) is not None
    finally:
        store.close()


def test_step_edges_find_each_parent_by_key_not_by_scanning(tmp_path: Path) -> None:
    """SQLite's plan for the step edges: every parent looked up by primary key."""
    from asyncflow.store.queries import SQLITE_QUERIES

    meta = SQLiteMetadataStore(tmp_path / "meta.db")
    run = _fan_run(meta, 3)
    rows = meta._read("EXPLAIN QUERY PLAN " + SQLITE_QUERIES.step_edges, ("P", run))
    plan = " ".join(str(row[-1]) for row in rows)
    assert "SEARCH p USING INDEX sqlite_autoindex_tasks_1 (run_id=? AND task_id=?)" in plan
    meta.close()


def _artifact(name: str, key: str, data: bytes | None = None) -> ArtifactRef:
    return ArtifactRef(name, key, "msgpack/1", len(data or b"x" * 9), "int", {"n": 1},
                       data is not None, data)  # fmt: skip


def test_artifacts_of_many_tasks_in_one_query_with_inline_bytes(
    meta: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a join reads of its parents: each task's refs by name, inline ones with
    their bytes (a value many tasks share read once), tasks of other runs and tasks
    without artifacts left out."""
    run, other = (meta.create_run("P", "ann", {}, [], []).run_id for _ in range(2))
    shared = _artifact("same", "k" * 64, b"\x01" * (ROW_VALUE_MAX + 1))  # kept once, by key
    for task_id in (1, 2, 3):
        refs = [_artifact("out", f"{task_id}" * 64, b"\x02" + bytes([task_id])), shared,
                _artifact("big", "b" * 64)]  # fmt: skip
        meta.commit_task(TaskRecord("P", run, "work", task_id, "successful"), refs)
    meta.commit_task(TaskRecord("P", run, "work", 4, "successful"), [])
    meta.commit_task(TaskRecord("P", other, "work", 1, "successful"), [_artifact("x", "x" * 64)])

    fetched = Fetched(meta, monkeypatch)
    found = meta.list_artifacts_of_tasks("P", run, [3, 1, 4, 99])
    # a row per distinct record (the shared `same` and `big` once, each `out` with its
    # bytes), then the bytes of the one value kept by key: not a row per task and artifact
    assert [n for _, n in fetched.queries] == [4, 1]
    assert found[1][2] is found[3][2]  # tasks with the same record share one ref
    assert sorted(found) == [1, 3]  # no artifact, no such task: absent
    for task_id in (1, 3):
        refs = found[task_id]
        assert [r.name for r in refs] == ["big", "out", "same"]
        assert refs == meta.list_artifacts("P", run, task_id)  # the same records
        big, out, same = refs
        assert (out.inline, out.data) == (True, b"\x02" + bytes([task_id]))
        assert same.data == b"\x01" * (ROW_VALUE_MAX + 1) and same.metadata == {"n": 1}
        assert (big.inline, big.data, big.size) == (False, None, 9)
    assert meta.list_artifacts_of_tasks("P", other, [1])[1][0].name == "x"
    assert meta.list_artifacts_of_tasks("P", run, []) == {}
    assert meta.list_artifacts_of_tasks("Q", run, [1]) == {}


def test_artifacts_of_tasks_take_more_ids_than_a_query_binds(meta: MetadataStore) -> None:
    """SQLite binds at most 32,766 variables per statement: the ids must not be bound
    one by one."""
    run = meta.create_run("P", "ann", {}, [], []).run_id
    meta.commit_task(TaskRecord("P", run, "work", 40_000, "successful"), [_artifact("o", "o" * 64)])
    found = meta.list_artifacts_of_tasks("P", run, range(1, 40_001))
    assert list(found) == [40_000]


def test_artifacts_of_tasks_found_by_key_not_by_scanning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's plans for the bulk read: each task's artifacts, and each inline value,
    by primary key."""
    meta = SQLiteMetadataStore(tmp_path / "meta.db")
    run = meta.create_run("P", "ann", {}, [], []).run_id
    for task_id in (2, 3):
        refs = [_artifact("out", f"{task_id}" * 64, b"\x02" * (ROW_VALUE_MAX + 1)),
                _artifact("big", "b" * 64)]  # fmt: skip
        meta.commit_task(TaskRecord("P", run, "work", task_id, "successful"), refs)
    seen: list[tuple[str, Sequence[Any]]] = []
    read = meta._read

    def noting(sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        seen.append((sql, args))
        return read(sql, args)

    monkeypatch.setattr(meta, "_read", noting)
    meta.list_artifacts_of_tasks("P", run, [2, 3])
    plans = [" ".join(str(row[-1]) for row in read("EXPLAIN QUERY PLAN " + sql, args))
             for sql, args in seen]  # fmt: skip
    by_key, blobs = plans
    assert "SEARCH a USING INDEX sqlite_autoindex_artifacts_1 (run_id=? AND task_id=?)" in by_key
    assert "SEARCH inline_blobs USING INDEX sqlite_autoindex_inline_blobs_1 (key=?)" in blobs
    meta.close()
