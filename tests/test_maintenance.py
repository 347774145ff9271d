"""Garbage collection and verification of a store, in process."""

from __future__ import annotations

import os
from pathlib import Path

from asyncflow.store import ArtifactRef, Datastore, TaskRecord
from asyncflow.store.maintenance import collect_garbage, verify

OLD = 1_000_000.0  # an mtime far outside any grace period


def _commit(store: Datastore, refs: list[ArtifactRef], task_id: int = 1) -> int:
    run = store.metadata.create_run("F", "ann", {}, [], [])
    record = TaskRecord("F", run.run_id, "s", task_id, "successful", 0, 0.0, 1.0)
    store.metadata.commit_task(record, refs, {})
    return run.run_id


def _age(store: Datastore, key: str) -> None:
    os.utime(store.blobs.path(key), (OLD, OLD))


def test_gc_deletes_only_old_unreferenced_blobs(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    kept = store.persist("kept", "committed value", step="s")
    _commit(store, [kept])
    orphan = store.persist("orphan", "never committed", step="s")
    recent = store.persist("recent", "written just now", step="s")
    _age(store, kept.key)
    _age(store, orphan.key)
    stale_tmp = store.blobs.root / "tmp" / "blobdead"
    stale_tmp.write_bytes(b"half a blob")
    os.utime(stale_tmp, (OLD, OLD))

    dry = collect_garbage(store, dry_run=True)
    assert [b.key for b in dry.deleted] == [orphan.key]
    assert store.blobs.exists(orphan.key)

    report = collect_garbage(store)
    assert [b.key for b in report.deleted] == [orphan.key]
    assert report.freed_bytes == orphan.size
    assert [b.key for b in report.kept_recent] == [recent.key]
    assert report.temp_deleted == 1 and not stale_tmp.exists()
    assert sorted(store.blobs.keys()) == sorted([kept.key, recent.key])
    assert store.load(kept) == "committed value"


def test_a_rewritten_old_orphan_counts_as_new(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    first = store.persist("a", [1, 2, 3], step="s")
    _age(store, first.key)
    again = store.persist("b", [1, 2, 3], step="t")  # a task about to commit the same bytes
    assert again.key == first.key
    assert collect_garbage(store).deleted == []
    _commit(store, [again])
    assert store.load(again) == [1, 2, 3]


def test_grace_zero_deletes_every_unreferenced_blob(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    orphan = store.persist("orphan", "x", step="s")
    assert [b.key for b in collect_garbage(store, grace=0).deleted] == [orphan.key]
    assert list(store.blobs.keys()) == []


def test_verify_reports_every_bad_blob_with_its_artifacts(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=16)
    good = store.persist("good", "a value stored in a file", step="s")
    bad = store.persist("bad", "another value in a file", step="s")
    gone = store.persist("gone", "a third value in a file", step="s")
    small = store.persist("small", 7, step="s")
    run_id = _commit(store, [good, bad, gone, small, bad.renamed("alias")])
    assert verify(store).ok and verify(store).checked == 4

    path = store.blobs.path(bad.key)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    store.blobs.delete(gone.key)
    with store.metadata._write() as cur:
        cur.execute("UPDATE inline_blobs SET data = X'0000' WHERE key = ?", (small.key,))

    report = verify(store)
    task = f"F/{run_id}/s/1"
    problems = {p.key: (p.problem, p.artifacts) for p in report.problems}
    assert not report.ok
    assert problems == {
        bad.key: (
            "corrupted: its content does not match its hash",
            [f"{task}/alias", f"{task}/bad"],
        ),
        gone.key: (f"missing (expected at {store.blobs.path(gone.key)})", [f"{task}/gone"]),
        small.key: (f"corrupted: 2 bytes stored, {small.size} expected", [f"{task}/small"]),
    }
