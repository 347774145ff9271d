from __future__ import annotations

import mmap
import sqlite3
from pathlib import Path

import pytest

from asyncflow.exceptions import CorruptedBlobError, DatastoreError
from asyncflow.store import (
    Datastore,
    LocalBlobStore,
    MetadataStore,
    SQLiteMetadataStore,
    content_key,
)
from asyncflow.store.blobs import MMAP_THRESHOLD


def test_content_key_is_blake3_of_the_concatenation() -> None:
    import blake3

    parts = [b"hello ", memoryview(b"world")]
    assert content_key(parts) == blake3.blake3(b"hello world").hexdigest()
    assert content_key([b"hello world"]) == content_key(parts)


def test_blob_put_is_atomic_and_never_rewrites(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    key = content_key([b"abc"])
    assert blobs.put(key, [b"a", b"bc"]) is True
    inode = blobs.path(key).stat().st_ino
    assert blobs.put(key, [b"abc"]) is False
    assert blobs.path(key).stat().st_ino == inode
    assert bytes(blobs.get(key)) == b"abc"
    assert list(blobs.keys()) == [key]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_large_blobs_are_read_as_memory_maps(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    data = bytes(range(256)) * (MMAP_THRESHOLD // 256 + 1)
    key = content_key([data])
    blobs.put(key, [data])
    view = blobs.get(key)
    assert isinstance(view.obj, mmap.mmap)
    assert view.readonly and view.tobytes() == data


def test_failed_write_leaves_no_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from asyncflow.store import blobs as blobs_module

    blobs = LocalBlobStore(tmp_path)
    real_write = blobs_module._write_all
    calls = []

    def disk_fills_up(f: object, view: memoryview) -> None:
        calls.append(view.nbytes)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_write(f, view)

    monkeypatch.setattr(blobs_module, "_write_all", disk_fills_up)
    with pytest.raises(DatastoreError, match="No space left on device"):
        blobs.put("ab" * 32, [b"x", b"y"])
    assert list(blobs.keys()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_missing_and_corrupted_blobs_name_the_artifact(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    ref = store.persist("numbers", list(range(100)), step="start")
    assert store.load(ref) == list(range(100))
    path = store.local_blobs.path(ref.key)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(CorruptedBlobError) as info:
        store.load(ref, pathspec="F/1/start/1")
    assert str(info.value) == (
        f"artifact 'F/1/start/1/numbers': blob {ref.key} is corrupted: "
        "its content does not match its hash"
    )
    path.unlink()
    with pytest.raises(CorruptedBlobError, match=r"artifact 'numbers': blob \w+ is missing"):
        store.load(ref)


def test_small_values_live_inline_and_are_stored_once(tmp_path: Path) -> None:
    store = Datastore(tmp_path)
    a = store.persist("a", {"x": 1}, step="s")
    b = store.persist("b", {"x": 1}, step="s")
    assert a.inline and a.key == b.key
    assert list(store.blobs.keys()) == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    SQLiteMetadataStore(tmp_path / "m.db").close()
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DatastoreError, match="schema version 99, newer than this asyncflow"):
        SQLiteMetadataStore(tmp_path / "m.db")


def test_write_streams_and_hashes_across_chunks(tmp_path: Path) -> None:
    from asyncflow.store.blobs import CHUNK

    blobs = LocalBlobStore(tmp_path)
    big = bytes(range(256)) * (2 * CHUNK // 256) + b"tail"
    parts = [memoryview(big)[:10], memoryview(big)[10:]]
    key = blobs.write(parts)
    assert key == content_key([big])
    assert blobs.path(key).read_bytes() == big
    assert list((tmp_path / "tmp").iterdir()) == []


def test_large_write_hashes_each_chunk_in_a_second_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import blake3

    from asyncflow.store import blobs as blobs_module

    threads: list[tuple[str, int]] = []
    real = blake3.blake3

    class Recording:
        def __init__(self, **options: object) -> None:
            self._inner = real(**options)  # type: ignore[arg-type]

        def update(self, data: memoryview) -> None:
            threads.append((threading.current_thread().name, memoryview(data).nbytes))
            self._inner.update(data)

        def hexdigest(self) -> str:
            return str(self._inner.hexdigest())

    monkeypatch.setattr(blake3, "blake3", Recording)
    store = LocalBlobStore(tmp_path)
    large = bytes(range(256)) * (blobs_module.OVERLAP_THRESHOLD // 256) + b"tail"
    key = store.write([memoryview(large)[:5], memoryview(large)[5:]])
    assert key == real(large).hexdigest()
    assert store.path(key).read_bytes() == large
    assert all(name.startswith("asyncflow-hash") for name, _ in threads)
    assert max(size for _, size in threads) <= blobs_module.CHUNK  # chunk by chunk
    threads.clear()
    store.write([b"small" * 1000])  # below the threshold: hashed here, no thread started
    assert threads == [(threading.current_thread().name, 5000)]


def test_write_of_an_existing_key_keeps_the_file_and_refreshes_its_mtime(tmp_path: Path) -> None:
    import os

    blobs = LocalBlobStore(tmp_path)
    key = blobs.write([b"same bytes"])
    path = blobs.path(key)
    os.utime(path, (1_000_000, 1_000_000))
    inode = path.stat().st_ino
    assert blobs.write([b"same ", b"bytes"]) == key
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > 1_000_000
    assert list((tmp_path / "tmp").iterdir()) == []


def test_values_over_the_inline_threshold_go_to_a_blob_file(tmp_path: Path) -> None:
    from asyncflow.store.datastore import INLINE_THRESHOLD

    store = Datastore(tmp_path)
    small = store.persist("small", b"x" * (INLINE_THRESHOLD - 64), step="s")
    large = store.persist("large", b"x" * (INLINE_THRESHOLD + 1), step="s")
    assert small.inline and not large.inline
    assert list(store.blobs.keys()) == [large.key]
    assert store.load(large) == b"x" * (INLINE_THRESHOLD + 1)


def test_known_key_skips_the_write_of_an_unchanged_value(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    ref = store.persist("v", list(range(1000)), step="s")
    store.blobs.delete(ref.key)
    again = store.persist("v", list(range(1000)), step="t", known_key=ref.key)
    assert again.key == ref.key
    assert not store.blobs.exists(ref.key)  # nothing was written
    changed = store.persist("v", list(range(1001)), step="t", known_key=ref.key)
    assert store.blobs.exists(changed.key)


@pytest.mark.parametrize(("env", "expected"), [("1", True), ("true", True), ("", False)])
def test_fsync_is_set_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, expected: bool
) -> None:
    monkeypatch.setenv("ASYNCFLOW_FSYNC", env)
    store = Datastore(tmp_path)
    assert store.fsync is expected and store.local_blobs.fsync is expected
    assert isinstance(store.metadata, SQLiteMetadataStore)
    synchronous = store.metadata._read("PRAGMA synchronous")[0][0]
    assert synchronous == (2 if expected else 1)  # FULL, NORMAL
    ref = store.persist("v", b"y" * 100, step="s")
    assert store.load(ref) == b"y" * 100
    assert Datastore(tmp_path / "other", fsync=False).fsync is False


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_large_blobs_are_size_checked_and_fully_checked_on_request(tmp_path: Path) -> None:
    store = Datastore(tmp_path, inline_threshold=0)
    value = b"z" * (MMAP_THRESHOLD + 10)
    ref = store.persist("big", value, step="s")
    path = store.local_blobs.path(ref.key)
    _flip_last_byte(path)
    checked = Datastore(tmp_path, verify_reads=True)
    with pytest.raises(CorruptedBlobError) as info:
        checked.load(ref, pathspec="F/1/s/1")
    assert str(info.value) == (
        f"artifact 'F/1/s/1/big': blob {ref.key} is corrupted: its content does not match its hash"
    )
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptedBlobError) as info:
        store.load(ref, pathspec="F/1/s/1")
    assert str(info.value) == (
        f"artifact 'F/1/s/1/big': blob {ref.key} is corrupted: "
        f"{ref.size - 1} bytes on disk, {ref.size} expected"
    )


def test_a_database_at_schema_1_migrates_to_the_latest(tmp_path: Path) -> None:
    from asyncflow.store.schema import MIGRATIONS, migrate

    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    cur = conn.cursor()
    cur.execute("BEGIN")
    assert migrate(cur, target=1) == 1
    cur.execute("INSERT INTO flows VALUES ('F', 1.0)")
    cur.execute(
        "INSERT INTO runs (flow, status, user, tags, system_tags, params, created_at) "
        """VALUES ('F', 'successful', 'ann', '["t"]', '["user:ann"]', '{"a": 1}', 2.0)"""
    )
    cur.execute("COMMIT")
    conn.close()
    store = SQLiteMetadataStore(tmp_path / "m.db")
    assert store._read("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    run = store.get_run("F", 1)
    assert run is not None
    assert (run.status, run.user, run.tags, run.params) == ("successful", "ann", ["t"], {"a": 1})
    assert store.create_run("F", "bob", {}, [], []).run_id == 2
    assert store.list_attempts(1, [1]) == [] and store.get_run_graph(1) is None


def test_many_threads_commit_to_one_store_at_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from asyncflow.store import TaskRecord

    store = Datastore(tmp_path, inline_threshold=64)
    run = store.metadata.create_run("F", "ann", {}, [], [])

    def task(i: int) -> None:
        refs = [store.persist("v", [i] * (i % 50), step="s")]
        record = TaskRecord("F", run.run_id, "s", i, "successful", 0, 0.0, 1.0)
        store.metadata.commit_task(record, refs, {"stdout": f"task {i}\n"})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(task, range(1, 201)))
    tasks = store.metadata.list_tasks("F", run.run_id)
    assert [t.task_id for t in tasks] == list(range(1, 201))
    for i in (1, 77, 200):
        (ref,) = store.metadata.list_artifacts("F", run.run_id, i)
        assert store.load(ref) == [i] * (i % 50)
        assert store.metadata.get_logs("F", run.run_id, i, "stdout") == f"task {i}\n"


def test_update_tags_adds_and_removes_in_one_step(tmp_path: Path) -> None:
    meta = SQLiteMetadataStore(tmp_path / "m.db")
    run = meta.create_run("F", "ann", {}, ["a", "b"], ["user:ann"])
    assert meta.update_tags("F", run.run_id, add=["c"], remove=["a"]) == ["b", "c"]
    got = meta.get_run("F", run.run_id)
    assert got is not None and got.tags == ["b", "c"] and got.system_tags == ["user:ann"]
    with pytest.raises(DatastoreError, match="run F/9 does not exist"):
        meta.update_tags("F", 9, add=["x"])


def test_large_values_are_streamed_to_disk_and_mapped_back_without_copies(
    tmp_path: Path,
) -> None:
    import tracemalloc

    import numpy as np

    store = Datastore(tmp_path)
    value = np.arange(8 << 20, dtype=np.float64)  # 64 MiB
    store.persist("warm-up", np.arange(10), step="s")  # first use imports the serializer
    tracemalloc.start()
    try:
        ref = store.persist("big", value, step="s")
        persist_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        loaded = store.load(ref)
        load_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ref.size == value.nbytes and not ref.inline
    assert persist_peak < 1 << 20 and load_peak < 1 << 20  # no copy of the 64 MiB
    assert not loaded.flags.writeable and np.array_equal(loaded, value)


def test_the_sqlite_store_has_every_method_of_the_protocol(tmp_path: Path) -> None:
    store: MetadataStore = SQLiteMetadataStore(tmp_path / "metadata.db")  # mypy checks it too
    wanted = {name for name in vars(MetadataStore) if not name.startswith("_")}
    assert sorted(name for name in wanted if not callable(getattr(store, name, None))) == []
    store.close()
