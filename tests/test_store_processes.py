"""Several processes on one store: two runs started together, gc while a run is active."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow.client import Flow, Run, _namespaces, namespace
from asyncflow.store import Datastore, SQLiteMetadataStore
from asyncflow.store.leases import FileLeases

from .conftest import REPO, run_python
from .flows.rendezvous import wait_until

FLOWS = REPO / "tests" / "flows"


@pytest.fixture(autouse=True)
def _restore_namespace() -> Iterator[None]:
    saved = _namespaces._namespace
    yield
    _namespaces._namespace = saved


def _start(script: str, root: Path, rendezvous: Path, **env: str) -> subprocess.Popen[str]:
    full_env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(root),
        "PYTHONPATH": str(REPO),
        "RENDEZVOUS_DIR": str(rendezvous),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, str(FLOWS / script), "run"], cwd=root.parent, env=full_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    return out


def test_two_runs_started_together_get_distinct_ids_and_both_succeed(tmp_path: Path) -> None:
    root, rendezvous = tmp_path / "store", tmp_path / "rendezvous"
    rendezvous.mkdir()
    # Neither process finds a database: both create and migrate it at once, then each
    # start step waits until both runs have started, so their commits overlap.
    procs = [_start("together_script.py", root, rendezvous, RENDEZVOUS_COUNT="2") for _ in "ab"]
    outputs = [_finish(p) for p in procs]
    assert all("Done!" in out for out in outputs)

    namespace(None)
    runs = Flow("TogetherFlow", root=root).runs()
    assert sorted(r.id for r in runs) == ["1", "2"]
    pids = {p.pid for p in procs}
    for run in runs:
        assert run.successful
        assert run.data is not None and run.data.run_id_seen == run.id
        assert run.data.pid in pids
        assert run.data.payload == bytes([run.data.pid % 251]) * 100_000
    assert {r.data.pid for r in runs if r.data is not None} == pids


def test_gc_while_a_run_is_active_keeps_its_uncommitted_blobs(tmp_path: Path) -> None:
    root, rendezvous = tmp_path / "store", tmp_path / "rendezvous"
    rendezvous.mkdir()
    proc = _start("gc_script.py", root, rendezvous)
    try:
        wait_until(
            lambda: (rendezvous / "persisting").exists() or proc.poll() is not None,
            "the slow step to write a_big",
        )
        assert proc.poll() is None, proc.communicate()
        store = Datastore(root)
        orphan = store.blobs.write([b"left by a task that crashed" * 10_000])
        os.utime(store.local_blobs.path(orphan), (1_000_000, 1_000_000))
        uncommitted = set(store.blobs.keys()) - store.metadata.referenced_keys() - {orphan}
        assert len(uncommitted) == 1  # a_big: on disk, its task not committed yet

        # No grace period at all: the running task's lease alone keeps a_big.
        gc = run_python("-m", "asyncflow", "gc", "--grace", "0", root=root)
        assert gc.returncode == 0, gc.stderr
        assert gc.stdout.splitlines() == [
            f"removed {orphan} (270000 bytes)",
            "removed 1 blob (270000 bytes); kept 0 unreferenced blobs younger than 0s",
            "removed 0 inline values and 0 temp files",
        ]
        assert not store.blobs.exists(orphan)
        assert store.blobs.exists(uncommitted.pop())
    finally:
        (rendezvous / "release").touch()
    _finish(proc)

    namespace(None)
    run = Run("GcDuringRunFlow/1", root=root)
    assert run.successful
    slow = run["slow"].task
    assert slow is not None
    assert slow.data.a_big == b"u" * 300_000 and slow.data.z_waiter == "released"
    verify = run_python("-m", "asyncflow", "verify", root=root)
    assert verify.returncode == 0, verify.stdout


def test_a_forked_child_has_its_own_connection_lock_and_lease(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    store.metadata.create_run("Parent", "ann", {}, [], [])
    store.persist("param", "uncommitted", step="_parameters")  # the parent's lease claims it
    assert isinstance(store.lease, FileLeases)
    lease = store.lease.path
    assert lease is not None
    locked, unlock = threading.Event(), threading.Event()

    metadata = store.metadata
    assert isinstance(metadata, SQLiteMetadataStore)

    def hold_the_lock() -> None:  # another thread of the parent, busy with the store
        with metadata._lock:
            locked.set()
            unlock.wait()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    locked.wait()
    pid = os.fork()
    if pid == 0:  # the child: a lock of its own, a connection of its own
        code = 1
        try:
            signal.alarm(20)  # a deadlock on the parent's lock ends the child, not the suite
            store.metadata.create_run("Child", "ann", {}, [], [])
            store.close()
            code = 0
        finally:
            os._exit(code)
    try:
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        unlock.set()
        holder.join()
    assert store.metadata.list_flows() == ["Child", "Parent"]  # the parent's connection works
    assert lease.exists() and store.lease.path == lease  # the child left the parent's lease


OPEN_FRESH_STORE = """
import os, sys, time
from pathlib import Path
from asyncflow.store import SQLiteMetadataStore
from tests.flows.rendezvous import wait_until

here = Path(sys.argv[1])
(here / f"ready-{os.getpid()}").touch()
wait_until(lambda: len(list(here.glob("ready-*"))) >= int(sys.argv[2]), "every opener")
go = max(p.stat().st_mtime for p in here.glob("ready-*")) + 0.5
while time.time() < go:  # spin, so that every opener starts within a millisecond
    pass
store = SQLiteMetadataStore(here / "metadata.db")
print(store.create_run("F", "u", {}, [], []).run_id)
"""


@pytest.mark.parametrize("round_", range(4))
def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path, round_: int) -> None:
    # Turning a new database to WAL takes a lock SQLite does not wait for; without
    # the open lock about one round in two had an opener fail with "database is locked".
    count = 3
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_FRESH_STORE, str(tmp_path), str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * count, [err for _, err in results]
    assert sorted(int(out) for out, _ in results) == list(range(1, count + 1))
