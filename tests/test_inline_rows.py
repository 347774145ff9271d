"""Where inline values live (store/schema.py, 8): a small one in its artifact's row, a
larger one once in ``inline_blobs`` by key; what that layout must keep: dedup of the
larger values, the collector, verify, and stores written at schema 7."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from asyncflow.executors.spec import without_data
from asyncflow.store import ArtifactRef, Datastore, SQLiteMetadataStore, TaskRecord
from asyncflow.store.blobs import content_key
from asyncflow.store.maintenance import collect_garbage, verify
from asyncflow.store.metadata import ROW_VALUE_MAX
from asyncflow.store.schema import MIGRATIONS, migrate


def _commit(store: Datastore, run_id: int, task_id: int, refs: list[ArtifactRef]) -> None:
    record = TaskRecord("F", run_id, "s", task_id, "successful", 0, 0.0, 1.0)
    store.commit_task(record, refs, {})


def _count(store: Datastore, sql: str) -> int:
    assert isinstance(store.metadata, SQLiteMetadataStore)
    return int(store.metadata._read(sql)[0][0])


def test_small_values_live_in_their_rows_and_larger_ones_once_by_key(tmp_path: Path) -> None:
    store = Datastore(tmp_path)
    run_id = store.metadata.create_run("F", "ann", {}, [], []).run_id
    shared = store.persist("shared", "x" * (2 * ROW_VALUE_MAX), step="s")  # every task's
    for task_id in range(1, 6):
        _commit(store, run_id, task_id, [shared, store.persist("out", task_id, step="s")])

    assert _count(store, "SELECT COUNT(*) FROM inline_blobs") == 1  # deduplicated
    assert _count(store, "SELECT COUNT(*) FROM artifacts WHERE data IS NOT NULL") == 5
    found = store.metadata.list_artifacts_of_tasks("F", run_id, [1, 5])
    for task_id in (1, 5):
        refs = {r.name: r for r in store.metadata.list_artifacts("F", run_id, task_id)}
        assert refs["out"].data is not None  # read with its row, no second query
        assert store.load(refs["out"]) == task_id and store.load(refs["shared"]) == "x" * 512
        assert [store.load(r) for r in found[task_id]] == [task_id, "x" * 512]
    assert store.metadata.get_inline(shared.key) == shared.data
    small = store.persist("out", 3, step="s")
    assert store.metadata.get_inline(small.key) == small.data  # a row copy, found by key

    collect_garbage(store, grace=0)
    assert _count(store, "SELECT COUNT(*) FROM inline_blobs") == 1  # still used: kept
    report = verify(store)
    assert report.ok and report.checked_inline == 6  # `shared` and each task's `out`


def test_the_collector_drops_inline_values_of_tasks_that_never_committed(
    tmp_path: Path,
) -> None:
    store = Datastore(tmp_path)
    run_id = store.metadata.create_run("F", "ann", {}, [], []).run_id
    value = store.persist("big", "y" * (2 * ROW_VALUE_MAX), step="s")
    assert isinstance(store.metadata, SQLiteMetadataStore)
    with store.metadata._write() as cur:  # what a task's failed commit could leave
        cur.execute("INSERT INTO inline_blobs (key, data) VALUES (?, ?)", (value.key, value.data))
    assert collect_garbage(store, grace=0).inline_deleted == 1
    _commit(store, run_id, 1, [value])
    assert collect_garbage(store, grace=0).inline_deleted == 0


def test_verify_tells_a_bad_row_copy_from_the_good_ones(tmp_path: Path) -> None:
    store = Datastore(tmp_path)
    run_id = store.metadata.create_run("F", "ann", {}, [], []).run_id
    same = store.persist("same", "v", step="s")
    for task_id in (1, 2):
        _commit(store, run_id, task_id, [same])
    assert isinstance(store.metadata, SQLiteMetadataStore)
    with store.metadata._write() as cur:
        cur.execute("UPDATE artifacts SET data = X'0000' WHERE task_id = 2")
    problems = [(p.key, p.problem, p.artifacts) for p in verify(store).problems]
    assert problems == [
        (same.key, "corrupted: its content does not match its hash", [f"F/{run_id}/s/2/same"])
    ]


def test_a_store_at_schema_7_reads_its_inline_values_after_migrating(tmp_path: Path) -> None:
    data = b"\x01" * 10
    key = content_key([data])
    conn = sqlite3.connect(tmp_path / "metadata.db", isolation_level=None)
    cur = conn.cursor()
    cur.execute("BEGIN")
    assert migrate(cur, target=7) == 7
    cur.execute("INSERT INTO flows VALUES ('F', 1.0)")
    cur.execute(
        "INSERT INTO runs (flow, status, user, tags, system_tags, params, created_at) "
        "VALUES ('F', 'successful', 'ann', '[]', '[]', '{}', 2.0)"
    )
    for task_id in (1, 2):
        cur.execute(
            "INSERT INTO tasks (flow, run_id, step, task_id, status, attempt, started_at, "
            "foreach_stack, parents) VALUES ('F', 1, 's', ?, 'successful', 0, 1.0, '[]', '[]')",
            (task_id,),
        )
        cur.execute(
            "INSERT INTO artifacts VALUES ('F', 1, ?, 'x', ?, 'raw', 10, 'bytes', '{}', 1)",
            (task_id, key),
        )
    cur.execute("INSERT INTO inline_blobs VALUES (?, ?)", (key, data))
    cur.execute("COMMIT")
    conn.close()

    store = Datastore(tmp_path)
    assert _count(store, "PRAGMA user_version") == len(MIGRATIONS)
    (ref,) = store.metadata.list_artifacts("F", 1, 1)
    assert ref.data is None and bytes(store.read_bytes(ref)) == data  # found by its key
    found = store.metadata.list_artifacts_of_tasks("F", 1, [1, 2])
    assert [r.data for r in found[1] + found[2]] == [data, data]
    assert verify(store).ok
    assert collect_garbage(store, grace=0).inline_deleted == 0  # still used: kept
    assert store.metadata.get_inline(key) == data


def test_only_blob_file_keys_are_indexed(tmp_path: Path) -> None:
    """A content hash indexed per task puts each task's rows on index pages of their
    own: the pages a commit dirties grow with the run. The collector's lookup of
    blob-file keys keeps its index."""
    store = Datastore(tmp_path)
    assert isinstance(store.metadata, SQLiteMetadataStore)
    read = store.metadata._read
    indexes = read(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='artifacts'"
    )
    assert [(n, s) for n, s in indexes if s is not None] == [
        (
            "artifacts_by_blob_key",
            "CREATE INDEX artifacts_by_blob_key ON artifacts(key) WHERE inline = 0",
        )
    ]
    plan = read("EXPLAIN QUERY PLAN SELECT DISTINCT key FROM artifacts WHERE inline=0")
    assert "artifacts_by_blob_key" in " ".join(str(r[-1]) for r in plan)


def test_a_worker_sends_small_inline_bytes_back_and_drops_large_ones() -> None:
    """A task that inherits a small value commits its bytes into its own row; without
    them its row would have none and a reader would scan the table for a copy."""
    small = ArtifactRef("s", "a" * 64, "raw", 3, "bytes", {}, True, b"abc")
    large = ArtifactRef("l", "b" * 64, "raw", 300, "bytes", {}, True, b"x" * 300)
    sent = without_data({"s": small, "l": large})
    assert sent["s"].data == b"abc" and sent["l"].data is None


def test_a_small_value_committed_without_its_bytes_is_still_read(tmp_path: Path) -> None:
    store = Datastore(tmp_path)
    run_id = store.metadata.create_run("F", "ann", {}, [], []).run_id
    value = store.persist("x", 5, step="s")
    _commit(store, run_id, 1, [value])
    _commit(store, run_id, 2, [dataclasses.replace(value, data=None)])
    (ref,) = store.metadata.list_artifacts("F", run_id, 2)
    assert ref.data is None and store.load(ref) == 5  # another row's copy, by key
    assert verify(store).ok
