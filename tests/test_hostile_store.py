"""A damaged or hostile store: planted keys, symlinks and strangers never reach outside it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow.client import Task
from asyncflow.exceptions import DatastoreError
from asyncflow.store import ArtifactRef, Datastore, LocalBlobStore, TaskRecord
from asyncflow.store.maintenance import collect_garbage, verify

from .conftest import run_python

OLD = 1_000_000.0


def _commit(store: Datastore, refs: list[ArtifactRef]) -> TaskRecord:
    run = store.metadata.create_run("F", "ann", {}, [], [])
    task = TaskRecord("F", run.run_id, "s", 1, "successful", 0, 0.0, 1.0)
    store.metadata.commit_task(task, refs, {})
    return task


def _outside(tmp_path: Path) -> Path:
    """A directory outside the store with a file gc must never touch."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ("f" * 62)).write_bytes(b"precious")
    os.utime(outside / ("f" * 62), (OLD, OLD))
    return outside


def _snapshot(directory: Path) -> dict[str, tuple[int, float]]:
    found = {}
    for path in sorted(directory.rglob("*")):
        st = os.lstat(path)
        found[str(path.relative_to(directory))] = (st.st_mode, st.st_mtime)
    return found


@pytest.mark.parametrize(
    "key",
    ["../../../../outside/secret", "/etc/passwd", "AB" * 32, "ab" * 31, "", "g" * 64, "ab" * 33],
)
def test_a_planted_key_never_becomes_a_path(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_bytes(b"s" * (2 << 20))
    store = Datastore(tmp_path / "store")
    _commit(store, [ArtifactRef("x", key, "msgpack/1", 2 << 20, "builtins.bytes", {}, False)])
    with pytest.raises(DatastoreError) as info:
        Task("F/1/s/1", root=tmp_path / "store", _namespace_check=False).data.x  # noqa: B018
    assert info.value.message == (
        f"invalid blob key of artifact 'F/1/s/1/x': {key!r} is not 64 lowercase hex characters "
        "(the store's metadata is damaged or was written by someone else)"
    )
    (problem,) = verify(store).problems
    assert problem.problem.startswith("an invalid key") and problem.artifacts == ["F/1/s/1/x"]
    with pytest.raises(DatastoreError):
        store.blobs.get(key)
    with pytest.raises(DatastoreError):
        store.blobs.delete(key)


def test_gc_never_follows_symlinks_planted_in_blobs(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    before = _snapshot(outside)
    store = Datastore(tmp_path / "store", inline_threshold=0)
    blobs = store.local_blobs.root
    os.symlink(outside, blobs / "ff")  # a fan-out directory
    os.symlink(outside / ("f" * 62), blobs / "tmp" / "stale")  # a temp file
    (blobs / "ab").mkdir()
    os.symlink(outside / ("f" * 62), blobs / "ab" / ("c" * 62))  # a blob file
    report = collect_garbage(store, grace=0)
    assert (report.deleted, report.temp_deleted) == ([], 0)
    assert _snapshot(outside) == before

    (blobs / "leases").mkdir(exist_ok=True)
    for name in ("tmp", "leases"):  # the directories themselves
        (blobs / name).rename(blobs / f"{name}-real")
        os.symlink(outside, blobs / name)
    os.utime(outside / ("f" * 62), (OLD, OLD))
    with pytest.raises(DatastoreError, match="leases is not a directory"):
        collect_garbage(store, grace=0)
    (blobs / "leases").unlink()
    collect_garbage(store, grace=0)
    assert _snapshot(outside) == before


def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    store = Datastore(tmp_path / "store", inline_threshold=0)
    orphan = LocalBlobStore(store.local_blobs.root).write([b"orphan" * 100])
    os.utime(store.local_blobs.path(orphan), (OLD, OLD))
    leases = store.local_blobs.root / "leases"
    leases.mkdir(exist_ok=True)
    (leases / "123-dead").write_text(orphan + "\n")  # a dead process's lease
    (store.local_blobs.root / "tmp" / "half").write_bytes(b"half a blob")
    os.utime(store.local_blobs.root / "tmp" / "half", (OLD, OLD))
    store.close()
    with sqlite3.connect(store.root / "metadata.db") as db:  # an inline value nobody uses
        db.execute("INSERT INTO inline_blobs (key, data) VALUES (?, ?)", ("cd" * 32, b"x"))
    store = Datastore(tmp_path / "store")
    before = _snapshot(store.root)
    report = collect_garbage(store, grace=0, dry_run=True)
    assert [b.key for b in report.deleted] == [orphan]
    assert _snapshot(store.root) == before


def test_a_directory_among_the_leases_is_left_alone(tmp_path: Path) -> None:
    store = Datastore(tmp_path / "store", inline_threshold=0)
    (store.local_blobs.root / "leases" / "stranger").mkdir(parents=True)
    (store.local_blobs.root / "tmp" / "a-dir").mkdir()
    orphan = LocalBlobStore(store.local_blobs.root).write([b"orphan"])
    assert [b.key for b in collect_garbage(store, grace=0).deleted] == [orphan]
    assert (store.local_blobs.root / "leases" / "stranger").is_dir()


def test_gc_with_no_grace_keeps_a_live_writers_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Datastore(root).close()
    code = (
        "import sys\n"
        "from asyncflow.store import LocalBlobStore\n"
        f"blobs = LocalBlobStore({str(root / 'blobs')!r})\n"
        "with blobs._temp_file('blob') as (f, tmp):\n"
        "    f.write(b'half written')\n"
        "    print(tmp, flush=True)\n"
        "    sys.stdin.readline()\n"
        "    f.write(b' and the rest')\n"
        "    blobs._finish(f, tmp, 'ab' * 32)\n"
        "print('stored', flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    tmp = Path(child.stdout.readline().strip())
    os.utime(tmp, (OLD, OLD))
    gc = run_python("-m", "asyncflow", "gc", "--grace", "0", root=root)
    assert "removed 0 inline values and 0 temp files" in gc.stdout, gc.stderr
    assert tmp.exists()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline() == "stored\n"
    assert child.wait(timeout=60) == 0
    assert (root / "blobs" / "ab" / ("ab" * 31)).read_bytes() == b"half written and the rest"
