"""Loads from a memory map reference it; writes hand over the value's own memory."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from serializers import ArrowSerializer, CloudpickleSerializer, NumpySerializer, Registry
from serializers.testing import read_only_map


def address_range(view: memoryview) -> tuple[int, int]:
    start = np.frombuffer(view, dtype=np.uint8).ctypes.data
    return start, start + view.nbytes


def array_address(array: np.ndarray[Any, Any]) -> int:
    return int(array.__array_interface__["data"][0])


class Holder:
    def __init__(self, weights: np.ndarray[Any, Any]) -> None:
        self.weights = weights


def test_numpy_write_uses_the_array_memory_and_load_views_the_map() -> None:
    array = np.arange(100_000, dtype="f8").reshape(1000, 100)
    result = NumpySerializer().serialize(array)
    assert np.shares_memory(result.buffers[0], array)
    with read_only_map(result.buffers) as view:
        back = NumpySerializer().deserialize(view, result.metadata)
        start, _ = address_range(view)
        assert array_address(back) == start
        assert not back.flags.writeable
        np.testing.assert_array_equal(back, array)


def test_numpy_load_from_writable_buffer_is_writable() -> None:
    array = np.arange(10)
    result = NumpySerializer().serialize(array)
    back = NumpySerializer().deserialize(memoryview(bytearray(result.buffers[0])), result.metadata)
    back[0] = 42
    assert back[0] == 42


def test_numpy_makes_strided_arrays_contiguous() -> None:
    array = np.arange(100, dtype="i4")[::2]
    result = NumpySerializer().serialize(array)
    assert result.metadata == {"dtype": "<i4", "shape": [50], "order": "C"}
    assert memoryview(result.buffers[0]).nbytes == 200


def test_fortran_arrays_keep_their_order() -> None:
    array = np.asfortranarray(np.arange(6, dtype="u1").reshape(2, 3))
    result = NumpySerializer().serialize(array)
    assert result.metadata == {"dtype": "|u1", "shape": [2, 3], "order": "F"}
    assert bytes(memoryview(result.buffers[0])) == bytes([0, 3, 1, 4, 2, 5])


def test_cloudpickle_writes_arrays_out_of_band_aligned_and_loads_them_in_place() -> None:
    weights = np.arange(1_000_000, dtype="f8")
    result = CloudpickleSerializer().serialize(Holder(weights))
    layout = result.metadata["out_of_band"]
    assert [size for _, size in layout] == [8_000_000]
    assert [offset % 64 for offset, _ in layout] == [0]
    assert any(isinstance(b, memoryview) and np.shares_memory(b, weights) for b in result.buffers)
    with read_only_map(result.buffers) as view:
        back = CloudpickleSerializer().deserialize(view, result.metadata)
        start, _ = address_range(view)
        assert array_address(back.weights) == start + layout[0][0]
        assert not back.weights.flags.writeable
        np.testing.assert_array_equal(back.weights, weights)


def test_arrow_write_hands_over_column_buffers_uncopied() -> None:
    table = pa.table({"x": np.arange(1_000_000, dtype="i8")})
    column_address = table.column("x").chunk(0).buffers()[1].address
    result = ArrowSerializer().serialize(table)
    addresses = [b.address for b in result.buffers if isinstance(b, pa.Buffer)]
    assert column_address in addresses
    assert len(result.buffers) <= 4


def test_arrow_load_views_the_map() -> None:
    table = pa.table({"x": np.arange(1_000_000, dtype="i8"), "y": np.ones(1_000_000)})
    result = ArrowSerializer().serialize(table)
    with read_only_map(result.buffers) as view:
        back = ArrowSerializer().deserialize(view, result.metadata)
        start, end = address_range(view)
        for column in back.columns:
            data = column.chunk(0).buffers()[1]
            assert start <= data.address < end
            assert (data.address - start) % 8 == 0
        assert back.equals(table)


def test_arrow_compression_shrinks_and_round_trips() -> None:
    table = pa.table({"x": np.zeros(100_000, dtype="i8")})
    plain = ArrowSerializer().serialize(table)
    packed = ArrowSerializer(compression="zstd").serialize(table)
    size = sum(memoryview(b).nbytes for b in packed.buffers)
    assert size < sum(memoryview(b).nbytes for b in plain.buffers) // 10
    assert packed.metadata["compression"] == "zstd"
    assert plain.metadata["compression"] is None


def test_arrow_rejects_unknown_compression() -> None:
    try:
        ArrowSerializer(compression="gzip")
    except ValueError as exc:
        assert str(exc) == "compression must be one of (None, 'lz4', 'zstd'), not 'gzip'"
    else:
        raise AssertionError("gzip was accepted")


def test_arrow_metadata_describes_the_table() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    encoded = Registry(plugins=False).serialize(frame)
    assert encoded.encoding == "arrow-ipc/1"
    metadata = dict(encoded.metadata)
    assert metadata.pop("size") > 0
    assert metadata.pop("nbytes") > 0
    assert metadata == {
        "kind": "pandas.DataFrame",
        "schema": [["a", "int64"], ["b", "large_string"]],
        "rows": 2,
        "compression": None,
        "type": "pandas.DataFrame",
    }


def test_pandas_declines_say_why() -> None:
    frame = pd.DataFrame({"s": ["x"]}, dtype=object)
    try:
        ArrowSerializer().serialize(frame)
    except Exception as exc:
        assert str(exc) == (
            "the frame would not round-trip through Arrow exactly: "
            "column dtypes change ('s': object -> str)"
        )
    else:
        raise AssertionError("object column of strings was accepted")


LAZY_CHECK = """
import sys
from serializers import default_registry
registry = default_registry()
for value in ({"a": [1, 2.5, None]}, (1, 2), {1, 2}):
    encoded = registry.serialize(value)
    data = b"".join(bytes(memoryview(b)) for b in encoded.buffers)
    assert registry.deserialize(encoded.encoding, data, encoded.metadata) == value
print(sorted(m for m in ("numpy", "pandas", "polars", "pyarrow") if m in sys.modules))
"""


def test_optional_libraries_are_not_imported_to_serialize_plain_values() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LAZY_CHECK], capture_output=True, text=True, check=True
    )
    assert out.stdout == "[]\n"
