"""Verified reads: a damaged blob gives an error naming the artifact, never a wrong value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from asyncflow.exceptions import CorruptedBlobError
from asyncflow.store import ArtifactRef, Datastore, TaskRecord
from asyncflow.store.maintenance import verify

from .conftest import REPO, run_python

BIG = 2 << 20  # above the memory-map threshold


class Holder:
    """Pickled (cloudpickle), holding bytes."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Holder) and other.payload == self.payload


VALUES: dict[str, Any] = {
    "msgpack bytes": b"m" * BIG,
    "numpy": np.arange(BIG // 8, dtype=np.int64),
    "arrow": pa.table({"x": np.arange(BIG // 8, dtype=np.int64)}),
    "pickle": Holder(b"p" * BIG),
}


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def _stored(root: Path, value: Any) -> ArtifactRef:
    store = Datastore(root)
    ref = store.persist("x", value, step="s")
    run = store.metadata.create_run("F", "ann", {}, [], [])
    store.commit_task(TaskRecord("F", run.run_id, "s", 1, "successful"), [ref])
    store.close()
    return ref


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_a_flipped_byte_in_a_large_blob_is_an_error_whatever_the_encoding(
    tmp_path: Path, kind: str
) -> None:
    ref = _stored(tmp_path, VALUES[kind])
    assert ref.size >= BIG and not ref.inline
    store = Datastore(tmp_path)
    _flip(store.local_blobs.path(ref.key), ref.size // 2)
    with pytest.raises(CorruptedBlobError) as info:
        store.load(ref, pathspec="F/1/s/1")
    assert info.value.message == (
        f"artifact 'F/1/s/1/x': blob {ref.key} is corrupted: its content does not match its hash"
    )


def test_a_blob_damaged_after_its_first_load_is_caught_on_the_next(tmp_path: Path) -> None:
    ref = _stored(tmp_path, VALUES["numpy"])
    store = Datastore(tmp_path)
    assert (store.load(ref) == VALUES["numpy"]).all()  # hashed once
    assert (store.load(ref) == VALUES["numpy"]).all()  # trusted: the file is unchanged
    path = store.local_blobs.path(ref.key)
    _flip(path, 100)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))  # a write moves the mtime
    with pytest.raises(CorruptedBlobError):
        store.load(ref)


def test_a_frame_read_back_equals_what_was_stored(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(BIG // 8)})
    ref = _stored(tmp_path, frame)
    pd.testing.assert_frame_equal(Datastore(tmp_path).load(ref), frame)


def test_a_step_that_reads_a_damaged_array_fails_and_stores_nothing_new(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = str(REPO / "tests" / "flows" / "repersist_script.py")
    proc = run_python(script, "run", root=root)
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "RepersistFlow/1/read/3/arr': blob " in output
    assert "is corrupted: its content does not match its hash" in output
    store = Datastore(root)
    (damaged,) = [ref.key for ref in store.metadata.list_artifacts("RepersistFlow", 1, 1)]
    assert {b.key for b in store.local_blobs.scan()} == {damaged}  # no re-stored copy of the damage
    report = verify(store)
    assert [p.key for p in report.problems] == [damaged]
