"""Garbage collection and verification of a store, in process."""

from __future__ import annotations

import os
from pathlib import Path

from asyncflow.store import ArtifactRef, Datastore, SQLiteMetadataStore, TaskRecord
from asyncflow.store.leases import FileLeases
from asyncflow.store.maintenance import collect_garbage, verify

OLD = 1_000_000.0  # an mtime far outside any grace period


def _commit(store: Datastore, refs: list[ArtifactRef], task_id: int = 1) -> int:
    run = store.metadata.create_run("F", "ann", {}, [], [])
    record = TaskRecord("F", run.run_id, "s", task_id, "successful", 0, 0.0, 1.0)
    store.metadata.commit_task(record, refs, {})
    return run.run_id


def _age(store: Datastore, key: str) -> None:
    os.utime(store.local_blobs.path(key), (OLD, OLD))


def test_gc_deletes_only_old_unreferenced_blobs(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    kept = store.persist("kept", "committed value", step="s")
    _commit(store, [kept])
    orphan = store.persist("orphan", "never committed", step="s")
    recent = store.persist("recent", "written just now", step="s")
    store.lease.close()  # as if the writers had died without committing
    _age(store, kept.key)
    _age(store, orphan.key)
    stale_tmp = store.local_blobs.root / "tmp" / "blobdead"
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
    first = store.blobs.write([b"same bytes"])  # writers without leases: the mtime decides
    _age(store, first)
    assert store.blobs.write([b"same bytes"]) == first  # about to be committed again
    assert collect_garbage(store).deleted == []
    _age(store, first)
    assert [b.key for b in collect_garbage(store).deleted] == [first]


def test_grace_zero_deletes_every_unreferenced_blob(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    orphan = store.blobs.write([b"x"])  # no lease: not written through the datastore
    assert [b.key for b in collect_garbage(store, grace=0).deleted] == [orphan]
    assert list(store.blobs.keys()) == []


def test_verify_reports_every_bad_blob_with_its_artifacts(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=16)
    good = store.persist("good", "a value stored in a file", step="s")
    bad = store.persist("bad", "another value in a file", step="s")
    gone = store.persist("gone", "a third value in a file", step="s")
    small = store.persist("small", 7, step="s")
    run_id = _commit(store, [good, bad, gone, small, bad.renamed("alias")])
    assert verify(store).ok and verify(store).checked == 4

    path = store.local_blobs.path(bad.key)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    store.blobs.delete(gone.key)
    assert isinstance(store.metadata, SQLiteMetadataStore)
    with store.metadata._write() as cur:
        cur.execute("UPDATE artifacts SET data = X'0000' WHERE key = ?", (small.key,))

    report = verify(store)
    task = f"F/{run_id}/s/1"
    problems = {p.key: (p.problem, p.artifacts) for p in report.problems}
    assert not report.ok
    assert problems == {
        bad.key: (
            "corrupted: its content does not match its hash",
            [f"{task}/alias", f"{task}/bad"],
        ),
        gone.key: (f"missing (expected at {store.local_blobs.path(gone.key)})", [f"{task}/gone"]),
        small.key: (f"corrupted: 2 bytes stored, {small.size} expected", [f"{task}/small"]),
    }


def test_a_lease_keeps_uncommitted_blobs_until_their_commit(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    ref = store.persist("param", "stored at run start", step="_parameters")
    _age(store, ref.key)  # older than any grace period, and not committed yet
    assert collect_garbage(store, grace=0).deleted == []
    _commit_with(store, [ref])
    assert isinstance(store.lease, FileLeases)
    assert store.lease.path is None  # nothing left to claim: no lease file stays behind
    assert list((store.local_blobs.root / "leases").iterdir()) == []
    assert collect_garbage(store, grace=0).deleted == []  # now referenced
    assert store.load(ref) == "stored at run start"


def test_a_closed_lease_protects_nothing(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    ref = store.persist("orphan", "a task that failed", step="s")
    store.lease.close()
    assert list((store.local_blobs.root / "leases").iterdir()) == []
    assert [b.key for b in collect_garbage(store, grace=0).deleted] == [ref.key]


def test_the_lease_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import REPO

    store = Datastore(tmp_path, inline_threshold=0)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITES_AND_WAITS, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    key = child.stdout.readline().strip()
    _age(store, key)
    assert collect_garbage(store, grace=0).deleted == []  # the child is alive: leased
    child.kill()
    child.wait()
    assert [b.key for b in collect_garbage(store, grace=0).deleted] == [key]
    assert list((store.local_blobs.root / "leases").iterdir()) == []


CHILD_WRITES_AND_WAITS = """
import sys
from asyncflow.store import Datastore
store = Datastore(sys.argv[1], inline_threshold=0)
print(store.persist("x", "written by a process that will die", step="s").key, flush=True)
sys.stdin.read()
"""


def _commit_with(store: Datastore, refs: list[ArtifactRef]) -> None:
    run = store.metadata.create_run("F", "ann", {}, [], [])
    record = TaskRecord("F", run.run_id, "s", 1, "successful", 0, 0.0, 1.0)
    store.commit_task(record, refs, {})
