from __future__ import annotations

import mmap
import sqlite3
from pathlib import Path

import pytest

from asyncflow.exceptions import CorruptedBlobError, DatastoreError
from asyncflow.store import Datastore, LocalBlobStore, SQLiteMetadataStore, content_key
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
    mtime = blobs.path(key).stat().st_mtime_ns
    assert blobs.put(key, [b"abc"]) is False
    assert blobs.path(key).stat().st_mtime_ns == mtime
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
    path = store.blobs.path(ref.key)
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
