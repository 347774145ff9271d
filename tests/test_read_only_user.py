"""A user who may only read a store reads it; the store directory's mode rules every file.

The machine runs tests as root, which permission bits do not stop: the reader is a real
other user (``nobody``, through ``runuser``) with an interpreter it may execute.
"""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asyncflow.store import Datastore, TaskRecord
from asyncflow.store.modes import open_file

from .conftest import REPO

READER = "nobody"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _reader_python() -> list[str]:
    """How to run this Python as the reader (skips the test, saying why, if it cannot)."""
    runuser = shutil.which("runuser")
    if os.geteuid() != 0 or runuser is None:
        pytest.skip("needs root and runuser(1) to read as another user")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    places = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/local/bin", "/usr/bin"]
    candidates = [sys.executable, *(os.path.join(p, f"python{version}") for p in places)]
    for python in dict.fromkeys(candidates):  # a venv's python may link into root's home
        if not os.access(python, os.X_OK):
            continue
        command = [runuser, "-u", READER, "--", python]
        probe = subprocess.run(
            [*command, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return command
    pytest.skip(f"user {READER!r} cannot run a Python {version} here")


def _as_reader(code: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(root),
        "PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]]),
        "HOME": str(root.parent),
    }
    return subprocess.run(
        [*_reader_python(), "-c", code], cwd=root.parent, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory everyone may enter (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="asyncflow-read-only-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would make every file private, were it let shape the store's files."""
    old = os.umask(0o077)
    yield
    os.umask(old)


def _write_store(root: Path, mode: int) -> None:
    root.mkdir(mode=mode)
    os.chmod(root, mode)  # whatever the umask
    _fill(root)


def _fill(root: Path) -> None:
    store = Datastore(root)
    run = store.metadata.create_run("SharedFlow", "ann", {}, [], [])
    refs = [
        store.persist("small", {"answer": 42}, step="start"),
        store.persist("big", np.arange(1 << 18, dtype=np.int64), step="start"),
    ]
    task = TaskRecord("SharedFlow", run.run_id, "start", 1, "successful", 0, 0.0, 1.0)
    store.commit_task(task, refs, {"stdout": "hello\n"})
    store.metadata.finish_run("SharedFlow", run.run_id, "successful")
    store.close()


def _blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "blobs").glob("??/*") if p.is_file()]


@pytest.mark.parametrize(
    "directory, database, blob",
    [(0o755, 0o644, 0o444), (0o750, 0o640, 0o440), (0o700, 0o600, 0o400), (0o770, 0o660, 0o440)],
)
def test_the_store_directory_mode_rules_the_database_and_the_blobs(
    tmp_path: Path, directory: int, database: int, blob: int, strict_umask: None
) -> None:
    root = tmp_path / "store"
    _write_store(root, directory)
    assert _mode(root / "metadata.db") == database
    blobs = _blob_files(root)
    assert blobs and {_mode(p) for p in blobs} == {blob}  # read-only once written
    assert {_mode(p.parent) for p in blobs} == {_mode(root / "blobs")}
    store = Datastore(root)  # a writer keeps the database open: SQLite's files copy its mode
    assert store.metadata.list_flows() == ["SharedFlow"]
    assert _mode(root / "metadata.db-wal") == database
    assert _mode(root / "metadata.db-shm") == database
    assert _mode(root / "metadata.db.open-lock") == database  # locks: as the database
    assert _mode(root / "blobs" / ".lock") == database
    store.persist("claimed", np.ones(1 << 18), step="start")  # leased until a commit
    (lease,) = (root / "blobs" / "leases").iterdir()
    assert _mode(lease) == database
    store.close()


READ = """
from asyncflow import Flow
from asyncflow.client import namespace
namespace(None)
run = Flow("SharedFlow").latest_run
task = run["start"].task
print(run.successful, task.data.small, int(task.data.big.sum()), task.stdout, end="")
"""


def test_a_user_who_can_only_read_reads_a_closed_store(shared_dir: Path) -> None:
    root = shared_dir / "store"
    _write_store(root, 0o755)
    assert not (root / "metadata.db-wal").exists()  # nobody has it open
    before = {p: os.stat(p).st_mtime_ns for p in root.rglob("*")}
    proc = _as_reader(READ, root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"True {{'answer': 42}} {sum(range(1 << 18))} hello\n"
    assert {p: os.stat(p).st_mtime_ns for p in root.rglob("*")} == before  # nothing written


def test_a_user_who_can_only_read_reads_while_a_writer_has_it_open(shared_dir: Path) -> None:
    root = shared_dir / "store"
    _write_store(root, 0o755)
    writer = Datastore(root)
    try:
        assert (root / "metadata.db-wal").exists()
        proc = _as_reader(READ, root)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("True {'answer': 42} ")
    finally:
        writer.close()


def test_a_reader_of_a_closed_store_sees_runs_committed_after_it_opened(
    shared_dir: Path,
) -> None:
    root = shared_dir / "store"
    _write_store(root, 0o755)
    code = (
        "import sys\n"
        "from asyncflow import Metaflow\n"
        "print(sorted(f.id for f in Metaflow().flows), flush=True)\n"
        "sys.stdin.readline()\n"
        "print(sorted(f.id for f in Metaflow().flows), flush=True)\n"
    )
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(root),
        "PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]]),
    }
    reader = subprocess.Popen(
        [*_reader_python(), "-c", code], cwd=shared_dir, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert reader.stdout is not None and reader.stdin is not None
    try:
        assert reader.stdout.readline() == "['SharedFlow']\n"
        store = Datastore(root)
        store.metadata.create_run("LaterFlow", "ann", {}, [], [])
        store.close()
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline() == "['LaterFlow', 'SharedFlow']\n"
    finally:
        reader.kill()
        _, stderr = reader.communicate()
    assert "Error" not in stderr, stderr


def test_a_user_who_can_only_read_is_told_so_when_writing(shared_dir: Path) -> None:
    root = shared_dir / "store"
    _write_store(root, 0o755)
    proc = _as_reader(
        "from asyncflow.store import Datastore\n"
        "Datastore().metadata.create_run('SharedFlow', 'nobody', {}, [], [])\n",
        root,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"asyncflow.exceptions.DatastoreError: cannot write the metadata database "
        f"{root / 'metadata.db'}: it is read-only for this user (a reader of a shared store "
        "can read runs, not start them; SQLite: attempt to write a readonly database)"
    )


WRITE = """
import numpy as np
from asyncflow.store import Datastore, TaskRecord
from asyncflow.store.modes import open_file
store = Datastore()
run = store.metadata.create_run("GroupFlow", "nobody", {}, [], [])
ref = store.persist("big", np.ones(1 << 18), step="start")
task = TaskRecord("GroupFlow", run.run_id, "start", 1, "successful", 0, 0.0, 1.0)
store.commit_task(task, [ref])
store.close()
print("committed", run.run_id)
"""


def test_a_writer_of_the_group_writes_in_a_group_store(
    shared_dir: Path, strict_umask: None
) -> None:
    # The owner made the locks and the first lease with a private umask: another
    # writer of the group must still open them for writing (and lock, claim, commit).
    root = shared_dir / "store"
    root.mkdir()
    os.chown(root, -1, pwd.getpwnam(READER).pw_gid)
    os.chmod(root, 0o2770)
    _fill(root)
    assert _mode(root / "blobs" / ".lock") == _mode(root / "metadata.db.open-lock") == 0o660
    proc = _as_reader(WRITE, root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "committed 2\n"
    store = Datastore(root)
    (ref,) = store.metadata.list_artifacts("GroupFlow", 2, 1)
    assert store.load(ref).sum() == 1 << 18
    store.close()


def _open_at_once(path: Path, barrier: Any, inodes: Any, index: int) -> None:
    barrier.wait()
    fd = open_file(path, os.O_RDWR)
    inodes[index] = os.fstat(fd).st_ino
    os.close(fd)


def test_processes_creating_one_lock_at_once_share_one_file_with_its_mode(
    tmp_path: Path, strict_umask: None
) -> None:
    # flock excludes only holders of the same file: racing creators must all get it
    ctx = multiprocessing.get_context("fork")
    for attempt in range(20):
        directory = tmp_path / str(attempt)
        directory.mkdir(mode=0o770)
        os.chmod(directory, 0o770)
        barrier, inodes = ctx.Barrier(6), ctx.Array("Q", 6)
        procs = [
            ctx.Process(target=_open_at_once, args=(directory / ".lock", barrier, inodes, i))
            for i in range(6)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0] * 6
        assert set(inodes[:]) == {os.stat(directory / ".lock").st_ino}
        assert _mode(directory / ".lock") == 0o660
        assert sorted(p.name for p in directory.iterdir()) == [".lock"]  # no temporary left
