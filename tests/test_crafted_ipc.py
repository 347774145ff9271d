"""A crafted Arrow IPC value (offsets pointing past the data) is an error naming the
artifact, never a crash of the reading process."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from asyncflow.exceptions import DatastoreError
from asyncflow.store import ArtifactRef, Datastore, TaskRecord
from serializers import DeserializationError, Registry, _arrow

from .conftest import run_python

ROWS = 200_000  # large enough for a memory-mapped blob
STRINGS = [f"v{i:06d}" for i in range(ROWS)]
FIRST_OFFSETS = (0, 7, 14, 21)

VALUES: dict[str, Any] = {
    "table": pa.table({"s": STRINGS}),
    "batch": pa.record_batch({"s": pa.array(STRINGS)}),
    "frame": pd.DataFrame({"s": STRINGS}),
}


def _craft(data: bytearray, slot: int) -> bytes:
    """Point offset ``slot`` of the string column far past its 1.4 MB of characters."""
    for fmt in ("<i", "<q"):  # string or large_string offsets
        at = data.find(struct.pack(f"<4{fmt[1]}", *FIRST_OFFSETS))
        if at >= 0:
            struct.pack_into(fmt, data, at + struct.calcsize(fmt) * slot, 1 << 30)
            return bytes(data)
    raise AssertionError("the offsets of the string column were not found")


def _hostile_store(root: Path, kind: str, slot: int) -> None:
    """A store whose record points at crafted bytes stored under their own, valid hash
    (as a hostile writer would make it: verified reads pass, the decoder gets them)."""
    store = Datastore(root)
    valid = store.persist("x", VALUES[kind], step="s")
    crafted = _craft(bytearray(store.read_bytes(valid)), slot)
    key = store.local_blobs.write([crafted])
    ref = ArtifactRef("x", key, valid.encoding, len(crafted), valid.type, valid.metadata, False)
    run = store.metadata.create_run("F", "ann", {}, [], [])
    store.commit_task(TaskRecord("F", run.run_id, "s", 1, "successful", 0, 0.0, 1.0), [ref])
    store.close()


READ = """
from asyncflow.client import Task
value = Task("F/1/s/1", _namespace_check=False).data.x
rows = value["s"].tolist() if hasattr(value, "iloc") else value.column("s").to_pylist()
print("read", len(rows))
"""


@pytest.mark.parametrize("slot", [ROWS, ROWS // 2], ids=["last offset", "middle offset"])
@pytest.mark.parametrize("kind", sorted(VALUES))
def test_a_crafted_string_column_is_an_error_naming_the_artifact(
    tmp_path: Path, kind: str, slot: int
) -> None:
    _hostile_store(tmp_path / "store", kind, slot)
    proc = run_python("-c", READ, root=tmp_path / "store", env={"ASYNCFLOW_ALLOW_PICKLE": "0"})
    assert proc.returncode == 1, f"exit {proc.returncode} (a signal if negative)\n{proc.stderr}"
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "serializers.errors.DeserializationError: cannot deserialize artifact 'F/1/s/1/x' "
        "with encoding 'arrow-ipc/1': ValueError: the Arrow IPC data is invalid (damaged or "
        "crafted): "
    ), proc.stderr
    assert "olumn 0" in last and "1073741824" in last  # the column and the offset at fault


PREVIEW = """
from asyncflow.client import Task
from asyncflow.ui._previews import preview
task = Task("F/1/s/1", _namespace_check=False)
store = task._store
(ref,) = store.metadata.list_artifacts("F", 1, 1)
print(preview(store, ref, "F/1/s/1/x", allow_pickle=False))
"""


def test_the_ui_preview_of_a_crafted_table_says_it_is_invalid(tmp_path: Path) -> None:
    _hostile_store(tmp_path / "store", "table", ROWS // 2)
    proc = run_python("-c", PREVIEW, root=tmp_path / "store")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    assert "Cannot preview: ValueError: the Arrow IPC data is invalid" in proc.stdout


def test_a_valid_table_still_loads_validated_without_a_copy(tmp_path: Path) -> None:
    store = Datastore(tmp_path / "store")
    ref = store.persist("x", VALUES["table"], step="s")
    before = pa.total_allocated_bytes()
    loaded = store.load(ref)
    assert pa.total_allocated_bytes() - before < 64 * 1024  # views of the memory map
    assert loaded.equals(VALUES["table"])


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row counts of the data each full validation checks."""
    seen: list[int] = []
    real = _arrow.checked

    def counting(data: Any) -> Any:
        seen.append(data.num_rows)
        return real(data)

    monkeypatch.setattr(_arrow, "checked", counting)
    return seen


def test_a_blob_validated_once_is_not_validated_again_in_the_process(
    tmp_path: Path, validations: list[int]
) -> None:
    store = Datastore(tmp_path / "store", registry=Registry())
    ref = store.persist("x", VALUES["frame"], step="s")
    small = store.persist("y", pd.DataFrame({"s": STRINGS[:10]}), step="s")
    for _ in range(3):
        pd.testing.assert_frame_equal(store.load(ref), VALUES["frame"])
        store.load(small)  # inline: validating again is cheaper than remembering
        assert store.read_columns(ref, ["s"])["s"].tolist() == STRINGS
    assert validations == [ROWS, 10, 10, 10]
    other = Datastore(tmp_path / "store", registry=Registry())  # its own serializers
    other.load(ref)
    assert validations[-1] == ROWS


def _two_batches(root: Path) -> tuple[Datastore, ArtifactRef, ArtifactRef]:
    """A table and a record batch stored under one key: batch 0 valid, batch 1 crafted."""
    store = Datastore(root, registry=Registry())
    half = ROWS // 2
    batches = [pa.record_batch({"s": pa.array(STRINGS[i : i + half])}) for i in (0, half)]
    valid = store.persist("x", pa.Table.from_batches(batches), step="s")
    data = bytearray(store.read_bytes(valid))
    second = data.rfind(struct.pack("<4i", *FIRST_OFFSETS))
    struct.pack_into("<i", data, second + 4 * (half // 2), 1 << 30)
    key = store.local_blobs.write([bytes(data)])
    table = ArtifactRef("t", key, valid.encoding, len(data), valid.type, valid.metadata, False)
    meta = {**valid.metadata, "kind": "pyarrow.RecordBatch"}
    batch = ArtifactRef("b", key, valid.encoding, len(data), "pyarrow.RecordBatch", meta, False)
    return store, table, batch


def test_what_was_validated_of_a_blob_covers_only_that(tmp_path: Path) -> None:
    store, table, batch = _two_batches(tmp_path / "store")
    assert store.load(batch).num_rows == ROWS // 2  # its first batch only: valid
    assert store.load(batch).num_rows == ROWS // 2
    with pytest.raises(DeserializationError, match="Arrow IPC data is invalid") as info:
        store.load(table)  # all batches: the crafted one is caught, not skipped
    assert info.value.artifact == "t"
    with pytest.raises(DeserializationError, match="Arrow IPC data is invalid"):
        store.load(table)  # a failure is never remembered
    with pytest.raises(DatastoreError, match="Arrow IPC data is invalid"):
        store.read_columns(table, ["s"])
