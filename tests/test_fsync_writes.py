"""Large blobs written with fsync on: flushed chunk by chunk, durable before they are named.

The calls the store makes are recorded in order (the flush of each chunk, the fsync of
the file, its rename, the fsync of its directory); crashes are real processes killed
with SIGKILL at exact points (``ASYNCFLOW_FAULT_INJECT``).
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from asyncflow.store import Datastore, LocalBlobStore, content_key
from asyncflow.store import blobs as blobs_module
from asyncflow.store.blobs import CHUNK
from asyncflow.store.faults import ENV

from .conftest import run_python

SIZE = 3 * CHUNK + 12345  # four chunks, the last one short


def _record(monkeypatch: pytest.MonkeyPatch, result: int = 0) -> list[tuple[Any, ...]]:
    """Record flushes, fsyncs and renames in the order the blob store makes them."""
    calls: list[tuple[Any, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def flush(fd: int, start: int, nbytes: int, flags: int) -> int:
        calls.append(("flush", start, nbytes, os.fstat(fd).st_size))
        return result

    def fsync(fd: int) -> None:
        st = os.fstat(fd)  # a directory is named by its inode, compared with _inode()
        calls.append(("fsync-dir", st.st_ino) if stat.S_ISDIR(st.st_mode) else ("fsync",))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append(("rename",))
        real_replace(src, dst)

    monkeypatch.setattr(blobs_module, "_sync_file_range", lambda: flush)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


def _inode(path: Path) -> int:
    return path.stat().st_ino


def test_each_chunk_is_sent_to_disk_once_written_and_the_file_fsynced_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(SIZE)
    calls = _record(monkeypatch)
    key = LocalBlobStore(tmp_path, fsync=True).write([data])
    flushes = [c for c in calls if c[0] == "flush"]
    # every chunk, in order, right after it reached the file: nothing left for the end
    starts = [0, CHUNK, 2 * CHUNK, 3 * CHUNK]
    ends = [*starts[1:], SIZE]
    assert flushes == [("flush", s, e - s, e) for s, e in zip(starts, ends, strict=True)]
    fan_out = tmp_path / key[:2]
    # the first blob of its fan-out directory: that directory's name is made durable too
    assert calls[len(flushes) :] == [
        ("fsync",),
        ("rename",),
        ("fsync-dir", _inode(fan_out)),
        ("fsync-dir", _inode(tmp_path)),
    ]
    assert key == content_key([data])
    assert bytes(LocalBlobStore(tmp_path).get(key)) == data


def test_the_root_is_fsynced_once_per_fan_out_directory_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path, fsync=True)
    first = store.write([b"first"])
    same_fan_out = (os.urandom(64) for _ in range(100_000))  # 1 in 256 shares its prefix
    matches = (d for d in same_fan_out if content_key([d])[:2] == first[:2])
    second, third = next(matches), next(matches)
    fan_out = ("fsync-dir", _inode(tmp_path / first[:2]))
    calls = _record(monkeypatch)
    store.write([second])
    assert calls == [("fsync",), ("rename",), fan_out]
    calls.clear()  # another process: it cannot know whoever made the directory fsynced it
    LocalBlobStore(tmp_path, fsync=True).write([third])
    assert calls == [("fsync",), ("rename",), fan_out, ("fsync-dir", _inode(tmp_path))]


def test_without_fsync_nothing_is_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record(monkeypatch)
    LocalBlobStore(tmp_path).write([os.urandom(SIZE)])
    assert calls == [("rename",)]


def test_a_file_system_that_refuses_the_flush_is_asked_once_and_still_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(SIZE)
    calls = _record(monkeypatch, result=-1)
    key = LocalBlobStore(tmp_path, fsync=True).write([data])
    assert [c[0] for c in calls] == ["flush", "fsync", "rename", "fsync-dir", "fsync-dir"]
    assert bytes(LocalBlobStore(tmp_path).get(key)) == data


WRITER = f"""
import os, sys
from asyncflow.store import Datastore
Datastore(sys.argv[1], fsync=True).persist("big", os.urandom({SIZE}), step="s")
"""


@pytest.mark.parametrize(
    ("fault", "written"),
    [("blob-write@2", 2 * CHUNK), ("blob-rename", SIZE)],  # half written; whole, unnamed
)
def test_a_writer_killed_mid_blob_with_fsync_on_leaves_no_blob_under_a_final_name(
    tmp_path: Path, fault: str, written: int
) -> None:
    root = tmp_path / "store"
    proc = run_python("-c", WRITER, str(root), root=root, env={ENV: fault})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = Datastore(root)
    assert list(store.blobs.keys()) == []
    (temp,) = (root / "blobs" / "tmp").iterdir()  # what was written, under its temp name only
    assert temp.stat().st_size == written
