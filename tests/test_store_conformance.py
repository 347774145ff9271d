"""The store contract, passed by every backend combination: local/SQLite, S3/SQLite,
local/PostgreSQL, S3/PostgreSQL (real SeaweedFS and PostgreSQL started by the suite).

Crashes are real processes killed with SIGKILL at exact points (``ASYNCFLOW_FAULT_INJECT``):
mid-upload, mid-commit. Races are real processes too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asyncflow import Flow, Run, namespace
from asyncflow.exceptions import (
    CorruptedBlobError,
    DatastoreError,
    LeaseLapsedError,
    NamespaceMismatchError,
)
from asyncflow.store import (
    ArtifactRef,
    AttemptRecord,
    Datastore,
    LocalBlobStore,
    StoreURLs,
    TaskRecord,
    resolve_urls,
)
from asyncflow.store.faults import ENV
from asyncflow.store.maintenance import collect_garbage, verify
from asyncflow.store.metadata import TaskCommit
from tests.flows.crashable import big_value
from tests.flows.tag_racer import race

from .conftest import REPO
from .servers import Postgres, S3Server

CRASHABLE = str(REPO / "tests" / "flows" / "crashable.py")
FAN = str(REPO / "tests" / "flows" / "fan_script.py")
ELSEWHERE = str(REPO / "tests" / "flows" / "elsewhere.py")
TAG_RACER = str(REPO / "tests" / "flows" / "tag_racer.py")
BACKENDS = ["local/sqlite", "s3/sqlite", "local/postgres", "s3/postgres"]


@dataclass
class Backend:
    """One combination of stores, as URLs every process of a test opens."""

    name: str
    urls: StoreURLs
    home: Path

    def open(self) -> Datastore:
        return Datastore.open(self.urls, inline_threshold=0)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ, "PYTHONPATH": str(REPO), "ASYNCFLOW_HOME": str(self.home),
            "ASYNCFLOW_DATASTORE": self.urls.datastore, "ASYNCFLOW_METADATA": self.urls.metadata,
            "ASYNCFLOW_LEASE_SECONDS": "1", "ASYNCFLOW_DISPLAY": "plain", **extra,
        }  # fmt: skip

    def python(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], env=self.env(**env), cwd=self.home.parent,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    blobs, meta = request.param.split("/")
    home = tmp_path / "store"
    datastore = str(home)
    metadata = "local"
    if blobs == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        datastore = s3.fresh_url()
    if meta == "postgres":
        pg: Postgres = request.getfixturevalue("postgres_server")
        metadata = pg.fresh_url()
    monkeypatch.setenv("ASYNCFLOW_HOME", str(home))
    monkeypatch.setenv("ASYNCFLOW_LEASE_SECONDS", "1")
    monkeypatch.chdir(tmp_path)
    namespace(None)
    yield Backend(request.param, resolve_urls(datastore, metadata), home)


def _overwrite(store: Datastore, key: str, data: bytes | None) -> None:
    """Replace (or, with None, delete) a stored blob behind the store's back."""
    if isinstance(store.blobs, LocalBlobStore):
        path = store.blobs.path(key)
        if data is None:
            path.unlink()
        else:
            path.chmod(0o644)
            path.write_bytes(data)
        return
    import obstore

    blobs = store.blobs
    if data is None:
        blobs.delete(key)
    else:
        obstore.put(blobs._store, blobs._path(key), data)  # type: ignore[attr-defined]


def _commit(store: Datastore, flow: str, refs: list[ArtifactRef]) -> TaskRecord:
    run = store.metadata.create_run(flow, "ann", {}, [], [])
    task = TaskRecord(flow, run.run_id, "start", 1, "successful")
    store.commit_task(task, refs)
    return task


def _start(backend: Backend, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], env=backend.env(**env), cwd=backend.home.parent,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


# -- crashes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "visible_steps"),
    [
        ("blob-write@2", ["start", "work", "join"]),  # big's 12 MiB body a third gathered
        ("commit-task@6", ["start", "work", "join"]),  # big's rows inserted, not committed
        ("commit-task@2", ["start"]),  # the first foreach task committing
    ],
)
def test_a_writer_killed_mid_upload_or_mid_commit_leaves_a_consistent_store(
    backend: Backend, fault: str, visible_steps: list[str]
) -> None:
    proc = backend.python(CRASHABLE, "run", **{ENV: fault})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = Run("CrashFlow/1", root=backend.urls)
    assert run.status == "running" and [s.id for s in run.steps()] == visible_steps
    _wait_until(lambda: run.crashed, "the run to show as crashed")
    store = backend.open()
    if fault.startswith("blob"):  # nothing half-uploaded is visible
        assert set(store.blobs.keys()) <= store.metadata.referenced_keys()
    assert verify(store).problems == []
    resumed = backend.python(CRASHABLE, "resume")
    assert resumed.returncode == 0, resumed.stderr
    again = Run("CrashFlow/2", root=backend.urls)
    assert again.successful and again.data is not None and again.data.blob == big_value()
    assert verify(backend.open()).problems == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("blob-write:enospc", "No space left on device (injected at blob-write)"),
        ("commit-task@6:enospc", "No space left on device (injected at commit-task)"),
    ],
)
def test_a_failed_write_fails_the_run_clearly_and_resume_finishes_it(
    backend: Backend, fault: str, message: str
) -> None:
    proc = backend.python(CRASHABLE, "run", **{ENV: fault})
    assert proc.returncode == 1 and message in proc.stdout, proc.stderr
    assert proc.stderr.endswith("Run CrashFlow/1 failed in CrashFlow/1/big/6.\n")
    run = Run("CrashFlow/1", root=backend.urls)
    assert run.status == "failed" and not run.crashed
    assert run.exception is not None and message in run.exception
    store = backend.open()
    if fault.startswith("blob"):  # the failed upload left nothing (a failed commit, an orphan)
        assert set(store.blobs.keys()) <= store.metadata.referenced_keys()
    assert verify(store).problems == []
    resumed = backend.python(CRASHABLE, "resume")
    assert resumed.returncode == 0, resumed.stderr
    again = Run("CrashFlow/2", root=backend.urls)
    assert again.successful and again.data is not None and again.data.blob == big_value()


def _wait_until(check: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


GROUP = """
from asyncflow.store import Datastore, TaskRecord
store = Datastore.open()
run = store.metadata.create_run("Group", "ann", {}, [], [])
tasks = [TaskRecord("Group", run.run_id, "s", i, "successful") for i in (1, 2, 3)]
store.commit_tasks([(task, [], {"stdout": "hi"}) for task in tasks])
"""


def test_a_writer_killed_mid_group_commit_shows_none_of_the_group(backend: Backend) -> None:
    proc = backend.python("-c", GROUP, **{ENV: "commit-task@3"})  # every row in, no COMMIT
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = backend.open()
    assert [r.run_id for r in store.metadata.list_runs("Group")] == [1]
    assert store.metadata.list_tasks("Group", 1) == []
    assert store.metadata.get_logs("Group", 1, 1, "stdout") == ""


def test_a_group_commit_with_one_bad_task_commits_none(backend: Backend) -> None:
    store = backend.open()
    run = store.metadata.create_run("Group", "ann", {}, [], [])
    good: list[TaskCommit] = [
        (TaskRecord("Group", run.run_id, "s", i, "successful"), [], None) for i in (1, 2)
    ]
    bad: TaskCommit = (TaskRecord("Group", run.run_id + 99, "s", 3, "successful"), [], None)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        store.commit_tasks([*good, bad])
    assert store.metadata.list_tasks("Group", run.run_id) == []
    store.commit_tasks(good)
    assert [t.task_id for t in backend.open().metadata.list_tasks("Group", run.run_id)] == [1, 2]


def test_the_last_task_id_counts_tasks_that_left_only_attempts_logs_or_a_fence(
    backend: Backend,
) -> None:
    meta = backend.open().metadata
    run, other = (meta.create_run("Ids", "ann", {}, [], []) for _ in range(2))
    assert meta.last_task_id(run.run_id) == 0
    meta.commit_task(TaskRecord("Ids", run.run_id, "s", 3, "successful"), [])
    assert meta.last_task_id(run.run_id) == 3
    meta.put_attempt(run.run_id, AttemptRecord(7, 0, "failed", 1.0, 2.0), {"stdout": "x"})
    assert meta.last_task_id(run.run_id) == 7  # a task that died before it committed
    meta.fence_attempt(run.run_id, 9, 0)
    assert meta.last_task_id(run.run_id) == 9
    assert meta.last_task_id(other.run_id) == 0


def test_a_task_registered_with_a_failed_attempt_is_unfinished_until_it_commits(
    backend: Backend,
) -> None:
    meta = backend.open().metadata
    run = meta.create_run("Reg", "ann", {}, [], [])
    frames = [{"step": "s", "var": "xs", "index": 1, "num_splits": 2}]
    task = TaskRecord("Reg", run.run_id, "w", 4, "failed", 0, foreach_stack=frames, parents=[1])
    meta.put_attempt(run.run_id, AttemptRecord(4, 0, "failed", 1.0, 2.0), {}, task)
    meta.put_attempt(run.run_id, AttemptRecord(4, 1, "failed", 2.0, 3.0), {}, task)
    meta.put_attempt(run.run_id, AttemptRecord(5, 0, "failed", 1.0, 2.0), {})  # unregistered
    [found] = meta.list_unfinished("Reg", run.run_id)
    assert (found.task_id, found.step, found.status, found.attempt) == (4, "w", "unfinished", 1)
    assert (found.foreach_stack, found.parents) == (frames, [1])
    meta.commit_task(TaskRecord("Reg", run.run_id, "w", 4, "successful", 2), [])
    assert meta.list_unfinished("Reg", run.run_id) == []


UPLOADER = """
import sys
import numpy as np
from asyncflow.store import Datastore
from asyncflow.store.blobs import content_key
store = Datastore.open(inline_threshold=0)
value = np.random.default_rng(3).random((256 << 20) // 8)
print(content_key([value.view(np.uint8)]), flush=True)
store.persist("huge", value)
print("stored", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["s3/sqlite", "s3/postgres"], indirect=True)
def test_a_writer_killed_while_its_bytes_are_on_the_wire_leaves_no_object(
    backend: Backend,
) -> None:
    proc = _start(backend, "-c", UPLOADER)
    assert proc.stdout is not None
    key = proc.stdout.readline().strip()  # printed just before the upload starts
    time.sleep(1.0)  # a 256 MiB PUT to a local SeaweedFS takes several seconds
    proc.send_signal(signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and "stored" not in rest, err
    store = backend.open()
    assert not store.blobs.exists(key)  # a PUT that never finished leaves nothing
    assert list(store.blobs.keys()) == [] and verify(store).problems == []
    store.persist("huge", _huge())  # a later writer stores it whole
    assert store.blobs.exists(key)


def _huge() -> object:
    import numpy as np

    return np.random.default_rng(3).random((256 << 20) // 8)


# -- writers on other hosts -------------------------------------------------------------


def test_a_writer_on_another_host_is_live_while_it_beats_and_crashed_once_killed(
    backend: Backend, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    lease = 3  # seconds; the writer renews it every second
    writer = _start(
        backend, ELSEWHERE, "run",
        ELSEWHERE_HOST="host-b", CRASH_GATE=str(gate), ASYNCFLOW_LEASE_SECONDS=str(lease),
    )  # fmt: skip
    try:
        with open(gate) as ready:  # blocks until host-b's start step runs
            assert ready.readline() == "ready\n"
        store = backend.open()
        (claimed,) = store.blobs.keys()  # the run's large parameter, not committed yet
        time.sleep(2.5 * lease)  # more than two lease periods: only renewals keep it live
        run = Run("ElsewhereFlow/1", root=backend.urls)
        assert store.metadata.get_run_owner(1) == ("host-b", writer.pid)
        assert run.status == "running" and not run.crashed
        assert collect_garbage(store, grace=0).deleted == []  # its claim holds
        assert list(store.blobs.keys()) == [claimed]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    if backend.name.endswith("postgres"):  # its heartbeat stops: crashed, on whatever host
        _wait_until(lambda: run.crashed, "host-b's run to show as crashed")
    else:  # SQLite cannot tell a process on another host from a live one: never crashed
        assert not run.crashed
    _wait_until(
        lambda: [b.key for b in collect_garbage(store, grace=0).deleted] == [claimed],
        "gc to delete the dead writer's uncommitted blob",
    )
    resumed = backend.python(ELSEWHERE, "resume")
    assert resumed.returncode == 0, resumed.stderr
    again = Run("ElsewhereFlow/2", root=backend.urls)
    assert again.successful and again.data is not None and again.data.length == 300_000


@pytest.mark.parametrize("backend", ["local/postgres", "s3/postgres"], indirect=True)
def test_a_writer_whose_lease_lapsed_commits_nothing_then_recovers(backend: Backend) -> None:
    writer = backend.open()
    ref = writer.persist("v", b"w" * 300_000)  # claimed under the writer's lease
    meta = writer.metadata
    run = meta.create_run("Lapse", "ann", {}, [], [])
    meta.set_run_owner(run.run_id, "here", os.getpid())
    with meta._tx() as cur:  # type: ignore[attr-defined]  # as if it had stalled past its lease
        cur.execute("UPDATE owners SET expires_at = 0 WHERE owner = %s", (meta.owner(),))  # type: ignore[attr-defined]
    assert [b.key for b in collect_garbage(backend.open(), grace=0).deleted] == [ref.key]
    task = TaskRecord("Lapse", run.run_id, "start", 1, "successful")
    with pytest.raises(LeaseLapsedError, match="expired before it committed"):
        writer.commit_task(task, [ref])
    assert meta.list_tasks("Lapse", run.run_id) == []  # no artifact without its blob
    assert verify(writer).problems == []
    again = writer.persist("v", b"w" * 300_000)  # a retry stores it again, under a new lease
    assert collect_garbage(backend.open(), grace=0).deleted == []
    writer.commit_task(task, [again])
    assert writer.load(again) == b"w" * 300_000 and verify(writer).problems == []
    assert not Run("Lapse/1", root=backend.urls).crashed  # the new lease speaks for the run


# -- concurrency -----------------------------------------------------------------------


def test_concurrent_writers_get_distinct_runs_and_lose_nothing(backend: Backend) -> None:
    procs = [_start(backend, FAN, "run") for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = list(Flow("FanFlow", root=backend.urls).runs())
    assert sorted(int(r.id) for r in runs) == [1, 2, 3, 4]
    for run in runs:
        assert run.successful and run.data is not None and run.data.answer == 42
        assert [t.data.item for t in run["each"].tasks()] == ["A", "B", "C"]
    assert verify(backend.open()).problems == []


def test_concurrent_tag_updates_all_apply(backend: Backend) -> None:
    store = backend.open()
    run = store.metadata.create_run("TagFlow", "ann", {}, ["first"], ["user:ann"])
    threads = [
        threading.Thread(target=store.metadata.update_tags, args=("TagFlow", run.run_id, [f"t{i}"]))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other = backend.open()  # another handle sees them: they are in the shared database
    tags = other.metadata.update_tags("TagFlow", run.run_id, remove=["first"])
    assert tags == [f"t{i}" for i in range(8)]
    assert [r.run_id for r in other.metadata.list_runs("TagFlow", tags=["t3", "user:ann"])] == [
        run.run_id
    ]
    assert other.metadata.list_runs("TagFlow", tags=["first"]) == []


def test_tag_changes_racing_in_threads_and_processes_lose_nothing(backend: Backend) -> None:
    """Tasks of parallel branches change one run's tags at once (Metaflow's
    TagMutationTest): each change is one read-and-write, so none is lost, and each
    racer's run object sees what its own change left."""
    store = backend.open()
    record = store.metadata.create_run("TagFlow", "ann", {}, ["first"], ["user:ann"])
    pathspec, rounds, gate = record.pathspec, 40, backend.home.parent / "gate"
    racers = [f"{kind}{i}" for kind in "pt" for i in range(3)]
    args = (str(rounds), str(gate))
    procs = [_start(backend, TAG_RACER, pathspec, name, *args) for name in racers[:3]]
    errors: list[BaseException] = []

    def racer(name: str) -> None:
        try:
            race(pathspec, name, rounds, gate, root=backend.urls)
        except BaseException as exc:  # reported below, naming its round
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(name,)) for name in racers[3:]]
    for t in threads:
        t.start()
    while not all(Path(f"{gate}.{name}").exists() for name in racers):
        ended = [proc.communicate() for proc in procs if proc.poll() is not None]
        assert ended == [] and errors == [], (ended, errors)  # died before the start
        time.sleep(0.01)
    gate.touch()  # all at once, as parallel branches start
    for t in threads:
        t.join()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert errors == []
    expected = {"first"} | {f"{name}-{i}" for name in racers for i in range(rounds)}
    assert Run(pathspec, root=backend.urls).user_tags == expected  # SHARED removed last


def test_namespaces_and_tags_select_runs_of_any_writer(backend: Backend) -> None:
    for user, tags in (("ann", []), ("bob", []), ("ann", ["--tag", "nightly"])):
        proc = backend.python(ELSEWHERE, "run", *tags, USER=user, METAFLOW_USER=user)
        assert proc.returncode == 0, proc.stderr
    flow = Flow("ElsewhereFlow", root=backend.urls)
    try:
        namespace("user:ann")
        assert [r.id for r in flow.runs()] == ["3", "1"]
        assert [r.id for r in flow.runs("nightly")] == ["3"]
        namespace("user:bob")
        assert flow.latest_run is not None and flow.latest_run.id == "2"
        with pytest.raises(NamespaceMismatchError, match=r"ElsewhereFlow/1.*user:bob"):
            Run("ElsewhereFlow/1", root=backend.urls)
        namespace("nightly")
        assert [r.id for r in flow.runs()] == ["3"]
    finally:
        namespace(None)
    assert [r.id for r in flow.runs()] == ["3", "2", "1"]
    assert flow["3"].user_tags == {"nightly"} and "user:ann" in flow["3"].system_tags


# -- damaged stores --------------------------------------------------------------------


def test_a_corrupted_or_missing_object_is_an_error_naming_the_artifact(backend: Backend) -> None:
    store = backend.open()
    bad = store.persist("bad", b"a" * 300_000)
    gone = store.persist("gone", b"b" * 300_000)
    task = _commit(store, "Damaged", [bad, gone])
    _overwrite(store, bad.key, b"x" * 300_000)
    _overwrite(store, gone.key, None)
    reader = backend.open()
    with pytest.raises(CorruptedBlobError, match=f"{task.pathspec}/bad.*corrupted"):
        reader.load(bad, pathspec=task.pathspec)
    with pytest.raises(CorruptedBlobError, match=f"{task.pathspec}/gone.*missing"):
        reader.load(gone, pathspec=task.pathspec)
    problems = {p.key: (p.problem.split(": ")[0], p.artifacts) for p in verify(reader).problems}
    assert problems == {
        bad.key: ("corrupted", [f"{task.pathspec}/bad"]),
        gone.key: (
            "missing (expected at " + reader.blobs.where(gone.key) + ")",
            [f"{task.pathspec}/gone"],
        ),
    }


@pytest.mark.parametrize("key", ["../../etc/passwd", "AB" * 32, "ab" * 31, ""])
def test_a_blob_store_refuses_a_key_that_is_not_a_hash(backend: Backend, key: str) -> None:
    store = backend.open()
    for touch in (store.blobs.get, store.blobs.exists, store.blobs.delete):
        with pytest.raises(DatastoreError, match="invalid blob key"):
            touch(key)


# -- gc --------------------------------------------------------------------------------


def test_gc_keeps_claimed_and_referenced_blobs_and_deletes_orphans(backend: Backend) -> None:
    store = backend.open()
    claimed = store.persist("claimed", b"c" * 300_000)  # stored, not committed yet
    kept = store.persist("kept", b"k" * 300_000)
    _commit(store, "Gc", [kept])
    dead = backend.open()
    orphan = dead.persist("orphan", b"o" * 300_000)
    dead.close()  # as if its process had ended before committing
    report = collect_garbage(backend.open(), grace=0)
    assert [b.key for b in report.deleted] == [orphan.key]
    assert set(store.blobs.keys()) == {claimed.key, kept.key}


WRITER = """
import sys
from asyncflow.store import Datastore, TaskRecord
store = Datastore.open(inline_threshold=0)
for i in range(int(sys.argv[1])):
    ref = store.persist("v", b"same bytes every time" * 20_000)
    run = store.metadata.create_run("Race", "ann", {}, [], [])
    store.commit_task(TaskRecord("Race", run.run_id, "start", 1, "successful"), [ref])
    store.persist("orphan", str(i).encode() * 100_000)  # never committed
store.close()
"""


def test_gc_racing_writers_never_deletes_a_committed_blob(backend: Backend) -> None:
    writer = _start(backend, "-c", WRITER, "25")
    collector = backend.open()
    # Half a second of grace spares the local writer's temporary files (gc removes those
    # older than the grace too); S3 objects have no mtime a writer refreshes, so there
    # the committed blob, written once and re-claimed every round, rests on leases alone.
    while writer.poll() is None:  # the writer prints nothing: its pipes cannot fill
        collect_garbage(collector, grace=0.5)
    _, err = writer.communicate()
    assert writer.returncode == 0, err
    collect_garbage(collector, grace=0)
    reader = backend.open()
    runs = reader.metadata.list_runs("Race")
    assert len(runs) == 25
    for run in runs:
        (ref,) = reader.metadata.list_artifacts("Race", run.run_id, 1)
        assert reader.load(ref) == b"same bytes every time" * 20_000
    assert verify(reader).problems == []
    assert len(list(reader.blobs.keys())) == 1  # the orphans are gone
