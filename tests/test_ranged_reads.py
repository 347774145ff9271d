"""Ranged reads: one column of a table, some rows of an array, fetched alone from S3 (real
SeaweedFS) and verified chunk by chunk; the same calls on a local store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import obstore
import pandas as pd
import pyarrow as pa
import pytest

from asyncflow import get_namespace
from asyncflow.client import Task
from asyncflow.exceptions import CorruptedBlobError, DatastoreError
from asyncflow.store import ArtifactRef, Datastore, TaskRecord
from asyncflow.store import datastore as datastore_module
from asyncflow.store.ranged import CHUNKS_FIELD, RANGE_CHUNK

from .servers import S3Server

COLUMNS = 16
ROWS = 262_144  # 2 MiB a column, 32 MiB a table


class CountingRanges:
    """Wraps a blob store's reads, counting the bytes each kind of read fetched."""

    def __init__(self, store: Datastore) -> None:
        self.ranged = self.whole = 0
        blobs = store.blobs
        self._get_range, self._get = blobs.get_range, blobs.get  # type: ignore[attr-defined]
        blobs.get_range = self.get_range  # type: ignore[attr-defined]
        blobs.get = self.get  # type: ignore[method-assign]

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        data: memoryview = self._get_range(key, start, end)
        self.ranged += data.nbytes
        return data

    def get(self, key: str, **options: Any) -> memoryview:
        data: memoryview = self._get(key, **options)
        self.whole += data.nbytes
        return data


@pytest.fixture
def s3_store(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Datastore:
    monkeypatch.setenv("ASYNCFLOW_HOME", str(tmp_path / "home"))  # where its lease files go
    return Datastore.open(s3_server.fresh_url(), metadata=f"sqlite://{tmp_path}/metadata.db")


def _table() -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table({f"c{i}": rng.random(ROWS) for i in range(COLUMNS)})


def test_one_column_of_a_large_table_fetches_only_that_column(s3_store: Datastore) -> None:
    table = _table()
    ref = s3_store.persist("t", table)
    assert len(ref.metadata[CHUNKS_FIELD]["digests"]) == 64 * -(-ref.size // RANGE_CHUNK)
    counts = CountingRanges(s3_store)
    got = s3_store.read_columns(ref, ["c5"])
    assert got.equals(table.select(["c5"]))
    column = ROWS * 8
    # The column, the chunks its ends share with neighbours, the footer and header chunks.
    assert column <= counts.ranged <= column + 4 * RANGE_CHUNK < ref.size // 4
    assert counts.whole == 0
    both = s3_store.read_columns(ref, ["c9", "c2"])
    assert both.column_names == ["c9", "c2"] and both.equals(table.select(["c9", "c2"]))


def test_a_frames_columns_come_back_as_a_frame_with_its_index(s3_store: Datastore) -> None:
    frame = _table().to_pandas()
    frame.index = pd.RangeIndex(ROWS).map(lambda i: f"r{i}")
    frame.index.name = "row"
    ref = s3_store.persist("f", frame)
    got = s3_store.read_columns(ref, ["c3", "c1"])
    pd.testing.assert_frame_equal(got, frame[["c3", "c1"]])


def test_rows_of_a_large_array_fetch_only_their_bytes(s3_store: Datastore) -> None:
    array = np.arange(ROWS * 16, dtype=np.float64).reshape(ROWS, 16)  # 32 MiB, 128 B a row
    ref = s3_store.persist("a", array)
    counts = CountingRanges(s3_store)
    got = s3_store.read_rows(ref, 100_000, 110_000)
    np.testing.assert_array_equal(got, array[100_000:110_000])
    assert counts.ranged <= 10_000 * 128 + 2 * RANGE_CHUNK and counts.whole == 0
    np.testing.assert_array_equal(s3_store.read_rows(ref, -5, ROWS + 9), array[-5:])


def test_a_damaged_chunk_fails_the_read_naming_the_artifact(s3_store: Datastore) -> None:
    table = _table()
    ref = s3_store.persist("t", table)
    task = _commit(s3_store, ref)
    stored = bytearray(s3_store.blobs.get(ref.key))
    where = stored.find(table.column("c7").chunk(0).buffers()[1].to_pybytes()[:4096])
    stored[where + 1000] ^= 0xFF  # one byte of column c7
    blobs: Any = s3_store.blobs
    obstore.put(blobs._store, blobs._path(ref.key), bytes(stored))
    reader = Task(task.pathspec, root=s3_store.urls)
    with pytest.raises(CorruptedBlobError, match=rf"{task.pathspec}/t.*corrupted: bytes \d+"):
        reader["t"].read_columns("c7")
    assert reader["t"].read_columns("c0").equals(table.select(["c0"]))  # its chunks are intact
    with pytest.raises(CorruptedBlobError, match="does not match its hash"):
        _ = reader["t"].data  # a whole load hashes it all


def test_a_blob_written_without_chunk_digests_is_read_whole_and_verified(
    s3_store: Datastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datastore_module, "RANGED_MIN", 1 << 40)
    table = _table()
    ref = s3_store.persist("t", table)
    assert CHUNKS_FIELD not in ref.metadata
    counts = CountingRanges(s3_store)
    assert s3_store.read_columns(ref, ["c1"]).equals(table.select(["c1"]))
    assert counts.whole == ref.size and counts.ranged == 0


def test_the_same_calls_work_on_a_local_store(tmp_path: Path) -> None:
    store = Datastore.open(tmp_path / "store")
    table, array = _table(), np.arange(1000).reshape(100, 10)
    t, a = store.persist("t", table), store.persist("a", array)
    assert CHUNKS_FIELD not in t.metadata  # local blobs are memory-mapped, not fetched
    assert store.read_columns(t, ["c4"]).equals(table.select(["c4"]))
    np.testing.assert_array_equal(store.read_rows(a, 10, 20), array[10:20])


def test_asking_for_what_is_not_there_names_the_artifact(s3_store: Datastore) -> None:
    ref = s3_store.persist("t", _table())
    with pytest.raises(DatastoreError, match=r"artifact 't': no column 'nope' \(columns: c0, c1"):
        s3_store.read_columns(ref, ["nope"])
    small = s3_store.persist("d", {"a": 1})
    with pytest.raises(
        DatastoreError, match=r"artifact 'd' \(builtins.dict, msgpack/1\) has no columns"
    ):
        s3_store.read_columns(small, ["a"])
    table = s3_store.persist("t2", _table())
    with pytest.raises(DatastoreError, match=r"artifact 't2' \(.*\) has no rows to read apart"):
        s3_store.read_rows(table, 0, 1)


def test_the_chunk_digests_stay_out_of_the_clients_metadata(s3_store: Datastore) -> None:
    ref = s3_store.persist("t", _table())
    task = _commit(s3_store, ref)
    artifact = Task(task.pathspec, root=s3_store.urls)["t"]
    assert CHUNKS_FIELD not in artifact.metadata and artifact.metadata["rows"] == ROWS
    assert artifact.read_columns("c2").equals(_table().select(["c2"]))


def _commit(store: Datastore, ref: ArtifactRef) -> TaskRecord:
    run = store.metadata.create_run("Ranged", "ann", {}, [], [str(get_namespace())])
    task = TaskRecord("Ranged", run.run_id, "start", 1, "successful")
    store.commit_task(task, [ref])
    return task
