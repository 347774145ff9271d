"""Arrow IPC: pyarrow tables and record batches, pandas and polars data frames.

pyarrow is imported lazily: importing it imports NumPy, and asking whether a
value is a data frame must not import either.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from serializers.base import Buffer, Serialized, Serializer
from serializers.errors import Declined

__all__ = ["ArrowSerializer", "checked"]

PYARROW_TABLE = "pyarrow.Table"
PYARROW_RECORD_BATCH = "pyarrow.RecordBatch"
PANDAS_DATAFRAME = "pandas.DataFrame"
POLARS_DATAFRAME = "polars.DataFrame"

_COMPRESSIONS = (None, "lz4", "zstd")
_ALL = "all batches"
_FIRST = "the first batch"
_COLUMNS = "some columns"
# Writes below this size are metadata and padding: merged so that a table
# gives a few dozen buffers, not thousands.
_SMALL_WRITE = 64 * 1024
# Blobs from this size on are remembered once validated; below it, validating again
# costs about what remembering would.
_REMEMBER_FROM = 1 << 20


class ArrowSerializer(Serializer):
    """Tables and data frames as an Arrow IPC file; the original type comes back.

    The blob is a valid Arrow IPC file (``pyarrow.ipc.open_file`` reads it).
    Column buffers are handed to the writer uncopied. Loading without
    compression is zero-copy: a ``pyarrow.Table``/``RecordBatch`` (and polars
    frames where polars allows) views the given buffer, read-only when that is
    a read-only memory map. pandas frames loaded from a read-only buffer keep
    their numeric columns as read-only views of it (one block per column); from
    a writable buffer they are converted into editable, copied blocks.
    ``compression`` (``"lz4"`` or ``"zstd"``) compresses column buffers, at the
    cost of a decompressed copy on load. pandas frames that Arrow would not
    give back exactly (object columns of mixed types, duplicate column names,
    complex numbers, ...) are declined.

    Every load validates the data in full (:func:`checked`), except bytes given
    to :meth:`deserialize_verified` under a name (hash) whose bytes of 1 MiB or
    more this instance validated before: validation is a function of the bytes.
    """

    encoding: ClassVar[str] = "arrow-ipc/1"
    priority: ClassVar[int] = 80

    def __init__(self, compression: str | None = None) -> None:
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression must be one of {_COMPRESSIONS}, not {compression!r}")
        self.compression = compression
        self._validated: set[tuple[str, str]] = set()  # (content, what): see _checked

    def can_serialize(self, obj: Any) -> bool:
        """Whether ``obj`` is one of the supported types, without importing their libraries."""
        return _kind_of(obj) is not None

    def serialize(self, obj: Any) -> Serialized:
        """Write ``obj`` as an Arrow IPC file into a list of buffers."""
        import pyarrow as pa

        kind = _kind_of(obj)
        extra: dict[str, Any] = {}
        if kind == PANDAS_DATAFRAME:
            data, extra = _from_pandas(obj)
        elif kind == POLARS_DATAFRAME:
            data = _from_polars(obj)
        elif kind in (PYARROW_TABLE, PYARROW_RECORD_BATCH):
            data = obj
        else:
            raise Declined(f"not a table or data frame: {type(obj).__qualname__}")
        sink = _BufferSink()
        options = pa.ipc.IpcWriteOptions(compression=self.compression)
        with pa.ipc.new_file(sink, data.schema, options=options) as writer:
            writer.write(data)
        sink.close()
        metadata = {
            "kind": kind,
            "schema": [[field.name, str(field.type)] for field in data.schema],
            "rows": data.num_rows,
            "nbytes": data.nbytes,
            "compression": self.compression,
            **extra,
        }
        return Serialized(sink.buffers, metadata)

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """Read the IPC file in ``buffer`` back as the original kind of object."""
        return self._read(buffer, metadata, None)

    def deserialize_verified(
        self, buffer: memoryview, metadata: dict[str, Any], content: str
    ) -> Any:
        """As :meth:`deserialize`, validating only if ``content`` was not validated before."""
        return self._read(buffer, metadata, content)

    def _read(self, buffer: memoryview, metadata: dict[str, Any], content: str | None) -> Any:
        import pyarrow as pa

        reader = pa.ipc.open_file(pa.py_buffer(buffer))
        kind = metadata["kind"]
        big = buffer.nbytes >= _REMEMBER_FROM
        if kind == PYARROW_RECORD_BATCH:
            return self._checked(reader.get_batch(0), content, _FIRST, remember=big)
        table = self._checked(reader.read_all(), content, _ALL, remember=big)
        if kind == PANDAS_DATAFRAME:
            return _to_pandas(table, metadata, zero_copy=buffer.readonly)
        if kind == POLARS_DATAFRAME:
            import polars as pl

            return pl.from_arrow(table, rechunk=False)
        return table

    def _checked(self, data: Any, content: str | None, what: str, *, remember: bool) -> Any:
        """``data`` validated (:func:`checked`) unless ``content``'s ``what`` (its first
        batch, or all of it) passed before; remembered if it passes now."""
        known = self._validated
        if content is not None and ((content, what) in known or (content, _ALL) in known):
            return data
        checked(data)
        if content is not None and remember:
            known.add((content, what))  # set.add is atomic: loads in threads share it
        return data

    def read_columns(
        self,
        source: Any,
        metadata: dict[str, Any],
        columns: Sequence[str],
        *,
        content: str | None = None,
    ) -> Any:
        """Only ``columns`` of the stored table, as its original kind. ``source`` is the
        blob (a buffer) or a random-access file over it: from a file, only the footer,
        the batches' headers and those columns' buffers are read. The columns are
        validated unless ``content`` (the verified blob's name) was, whole, before."""
        import pyarrow as pa

        names = [name for name, _ in metadata["schema"]]
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ValueError(
                f"no column {', '.join(map(repr, unknown))} (columns: {', '.join(names)})"
            )
        file = (
            pa.py_buffer(source) if isinstance(source, memoryview) else pa.PythonFile(source, "r")
        )
        index = _index_columns(pa.ipc.open_file(file).schema)  # the footer: read again below
        wanted = list(dict.fromkeys([*columns, *index]))
        options = pa.ipc.IpcReadOptions(included_fields=sorted(names.index(c) for c in wanted))
        reader = pa.ipc.open_file(file, options=options)
        kind = metadata["kind"]
        if kind == PYARROW_RECORD_BATCH:
            batch = self._checked(reader.get_batch(0), content, _COLUMNS, remember=False)
            return batch.select(list(columns))
        # the columns read, validated as a whole load is (not remembered: only a part)
        table = self._checked(reader.read_all(), content, _COLUMNS, remember=False)
        if kind == PANDAS_DATAFRAME:
            return _to_pandas(table.select(wanted), metadata, zero_copy=False)[list(columns)]
        table = table.select(list(columns))
        if kind == POLARS_DATAFRAME:
            import polars as pl

            return pl.from_arrow(table, rechunk=False)
        return table


def _index_columns(schema: Any) -> list[str]:
    """The columns holding a pandas frame's index (read too, so the index comes back)."""
    pandas = schema.pandas_metadata or {}
    return [c for c in pandas.get("index_columns", []) if isinstance(c, str)]


def checked(data: Any) -> Any:
    """``data`` (a table or record batch read from IPC) once Arrow's full validation passes.

    Reading IPC checks the file's structure and that each buffer lies inside it, not the
    values: a string column whose offsets point past its data reads fine and crashes the
    process (SIGSEGV) when a value is touched. Only the full validation is sound: the
    cheap one checks the first and last offsets only, not one in the middle. It reads the
    offsets and checks UTF-8 of string data, nothing for fixed-width columns without
    nulls; its cost is in ``benchmarks/trust_costs.py``.
    """
    import pyarrow as pa

    try:
        data.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"the Arrow IPC data is invalid (damaged or crafted): {exc}") from exc
    return data


def _kind_of(obj: Any) -> str | None:
    cls = type(obj)
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and cls is pyarrow.Table:
        return PYARROW_TABLE
    if pyarrow is not None and cls is pyarrow.RecordBatch:
        return PYARROW_RECORD_BATCH
    pandas = sys.modules.get("pandas")
    if pandas is not None and cls is pandas.DataFrame:
        return PANDAS_DATAFRAME
    polars = sys.modules.get("polars")
    if polars is not None and cls is polars.DataFrame:
        return POLARS_DATAFRAME
    return None


def _from_pandas(frame: Any) -> tuple[Any, dict[str, Any]]:
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise Declined(f"Arrow cannot represent this frame: {exc}") from exc
    lost = _pandas_loss(frame, _empty_probe(table).to_pandas())
    if lost:
        raise Declined(f"the frame would not round-trip through Arrow exactly: {lost}")
    freq = getattr(frame.index, "freqstr", None)
    return table, ({} if freq is None else {"index_freq": freq})


def _empty_probe(table: Any) -> Any:
    """A 0-row slice of ``table`` whose stored range indexes are empty too.

    pyarrow rebuilds a stored ``RangeIndex`` only when its length matches the rows, so
    an unchanged slice would come back with a default, unnamed index and look lossy.
    """
    empty = table.slice(0, 0)
    pandas_meta = (empty.schema.metadata or {}).get(b"pandas")
    if pandas_meta is None:
        return empty
    meta = json.loads(pandas_meta)
    for index in meta.get("index_columns", []):
        if isinstance(index, dict) and index.get("kind") == "range":
            index["stop"] = index["start"]
    patched = {**empty.schema.metadata, b"pandas": json.dumps(meta).encode()}
    return empty.replace_schema_metadata(patched)


def _pandas_loss(frame: Any, probe: Any) -> str | None:
    # Converting an empty slice back is cheap and shows what Arrow would give
    # back: dtypes, column labels and index types must all survive.
    if list(probe.dtypes) != list(frame.dtypes):
        changed = [
            f"{label!r}: {before} -> {after}"
            for label, before, after in zip(frame.columns, frame.dtypes, probe.dtypes, strict=True)
            if before != after
        ]
        return "column dtypes change (" + ", ".join(changed) + ")"
    for name, before, after in (
        ("columns", frame.columns, probe.columns),
        ("index", frame.index, probe.index),
    ):
        if type(before) is not type(after) or list(before.names) != list(after.names):
            return f"the {name} change from {type(before).__name__} to {type(after).__name__}"
        if _index_dtypes(before) != _index_dtypes(after):
            return (
                f"the {name} dtype changes from {_index_dtypes(before)} to {_index_dtypes(after)}"
            )
    if not probe.columns.equals(frame.columns):
        return "column labels change"
    return None


def _index_dtypes(index: Any) -> list[Any]:
    return list(getattr(index, "dtypes", [index.dtype]))


def _to_pandas(table: Any, metadata: dict[str, Any], *, zero_copy: bool) -> Any:
    # From a read-only buffer (the client's memory map) columns stay views of it, one
    # block each: no copy, read-only like a loaded array. From a writable buffer (a
    # step's private copy) pandas gets its own editable blocks, as after unpickling.
    frame = table.to_pandas(split_blocks=True) if zero_copy else _editable(table.to_pandas())
    freq = metadata.get("index_freq")
    if freq is not None:
        frame.index = type(frame.index)(frame.index, freq=freq)
    return frame


def _editable(frame: Any) -> Any:
    """``frame`` with its categorical columns copied: their codes view Arrow's indices,
    read-only (every other column is converted into blocks of its own anyway; codes
    are a byte or two a row)."""
    import pandas as pd

    for i, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            frame.isetitem(i, frame.iloc[:, i].copy())
    return frame


def _from_polars(frame: Any) -> Any:
    import polars as pl

    objects = [name for name, dtype in frame.schema.items() if dtype == pl.Object]
    if objects:
        raise Declined(f"polars Object columns have no Arrow type: {objects}")
    try:
        return frame.to_arrow()
    except Exception as exc:
        raise Declined(f"polars cannot export this frame to Arrow: {exc}") from exc


class _BufferSink:
    """A write-only file for pyarrow that keeps the buffers it is given, uncopied."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = []
        self.closed = False
        self._small = bytearray()
        self._position = 0

    def write(self, data: Buffer) -> int:
        size = memoryview(data).nbytes
        if size < _SMALL_WRITE:
            self._small += data
        else:
            self._flush_small()
            self.buffers.append(data)
        self._position += size
        return size

    def tell(self) -> int:
        return self._position

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._flush_small()
        self.closed = True

    def _flush_small(self) -> None:
        if self._small:
            self.buffers.append(bytes(self._small))
            self._small = bytearray()
