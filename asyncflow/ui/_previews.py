"""Artifact previews and downloads that read only what they show.

A table's first rows come from the first record batches of its memory-mapped
Arrow IPC file; an array's statistics from a bounded prefix of its mapped
buffer; a raw value's (bytes/1) from its first bytes; simple values are
decoded (they are small). A pickled value, or one of
an encoding this module does not know, is decoded only when the app allows
pickle *and* the process does (``ASYNCFLOW_ALLOW_PICKLE``), since decoding it may
run code from whoever wrote the store.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from ..store import ArtifactRef, Datastore
from ..store.pickling import pickle_allowed
from ._html import Markup, el
from ._plot import histogram_svg

__all__ = [
    "PREVIEW_ROWS",
    "Download",
    "download",
    "download_formats",
    "preview",
]

ARROW, NUMPY, MSGPACK, RAW = "arrow-ipc/1", "numpy/1", "msgpack/1", "bytes/1"
#: Rows of a table shown on an artifact's page.
PREVIEW_ROWS = 20
#: Elements of an array its statistics and histogram are computed over.
STATS_LIMIT = 1_000_000
#: Largest simple or decoded value shown (bytes stored).
MAX_DECODED = 4 * 1024 * 1024
#: Bytes of a raw value (bytes/1) shown: text as text, other bytes as hex.
RAW_PREFIX = 2048
_MAX_TEXT = 20_000
_CHUNK = 1024 * 1024


def preview(store: Datastore, ref: ArtifactRef, pathspec: str, allow_pickle: bool) -> Markup:
    """What the artifact's page shows of its value."""
    try:
        if ref.encoding == ARROW:
            return _table(store.read_bytes(ref, pathspec=pathspec), ref)
        if ref.encoding == NUMPY:
            return _array(store.read_bytes(ref, pathspec=pathspec), ref)
        if ref.encoding == RAW:
            return _raw(store.read_bytes(ref, pathspec=pathspec), ref)
        if ref.size > MAX_DECODED:
            return _note(f"Not previewed: {ref.size:,} bytes is more than a preview reads.")
        if ref.encoding == MSGPACK:
            return _pre(_json_text(store.load(ref, pathspec=pathspec)))
        if not (allow_pickle and pickle_allowed()):
            return _note(
                f"Not previewed: decoding {ref.encoding} can run code from whoever wrote "
                "the store. Start the UI with --allow-pickle if you trust it."
            )
        return _pre(_cut(repr(store.load(ref, pathspec=pathspec))))
    except Exception as exc:  # a damaged or hostile value: say so, keep the page
        return el("p", f"Cannot preview: {type(exc).__name__}: {exc}", class_="error")


def _note(text: str) -> Markup:
    return el("p", text, class_="note")


def _pre(text: str) -> Markup:
    return el("pre", text, class_="value")


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + " …"


def _json_text(value: Any) -> str:
    return _cut(json.dumps(value, indent=2, ensure_ascii=False, default=_bytes_repr))


def _bytes_repr(value: Any) -> str:
    return repr(value)[:200]


def _table(view: memoryview, ref: ArtifactRef) -> Markup:
    import pyarrow as pa

    from serializers._arrow import checked

    reader = pa.ipc.open_file(pa.py_buffer(view))
    batches, rows = [], 0
    for i in range(reader.num_record_batches):
        if rows >= PREVIEW_ROWS:
            break
        batch = checked(reader.get_batch(i))
        batches.append(batch.slice(0, PREVIEW_ROWS - rows))
        rows += batches[-1].num_rows
    head = pa.Table.from_batches(batches, schema=reader.schema).to_pylist()
    names = _index_first(reader.schema)
    total = ref.metadata.get("rows", "?")
    return el(
        "div",
        el("p", f"First {len(head)} of {total} rows; {len(names)} columns.", class_="note"),
        el(
            "table",
            el("thead", el("tr", [el("th", n) for n in names])),
            el("tbody", [el("tr", [el("td", _cell(row[n])) for n in names]) for row in head]),
            class_="frame",
        ),
        class_="preview-table",
    )


def _index_first(schema: Any) -> list[str]:
    """The columns, a pandas frame's index first (pandas stores it last)."""
    try:
        meta = schema.pandas_metadata
    except ValueError:  # metadata that is not JSON: no index, then
        meta = None
    index = meta.get("index_columns") if isinstance(meta, dict) else None
    index = index if isinstance(index, list) else []
    first = [c for c in index if isinstance(c, str) and c in schema.names]
    return first + [n for n in schema.names if n not in first]


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _array(view: memoryview, ref: ArtifactRef) -> Markup:
    import numpy as np

    dtype = np.dtype(ref.metadata["dtype"])
    shape = tuple(ref.metadata["shape"])
    count = int(np.prod(shape)) if shape else 1
    sample = np.frombuffer(view, dtype=dtype, count=min(count, STATS_LIMIT))
    facts = [("shape", str(shape)), ("dtype", str(dtype)), ("elements", f"{count:,}")]
    plot: Markup | None = None
    if dtype.kind in "biuf" and sample.size:
        values = sample.astype(np.float64)
        finite = values[np.isfinite(values)]
        scope = "" if count <= STATS_LIMIT else f" (first {STATS_LIMIT:,})"
        if finite.size:
            facts += [
                (f"min{scope}", f"{finite.min():.6g}"),
                (f"max{scope}", f"{finite.max():.6g}"),
                (f"mean{scope}", f"{finite.mean():.6g}"),
                (f"std{scope}", f"{finite.std():.6g}"),
            ]
            counts, edges = np.histogram(finite, bins=30)
            plot = histogram_svg([int(c) for c in counts], float(edges[0]), float(edges[-1]))
    first = np.array2string(sample[:10], threshold=10, precision=6)
    facts.append(("first values", first))
    rows = [el("tr", el("th", k), el("td", v)) for k, v in facts]
    return el("div", el("table", rows, class_="facts"), plot, class_="preview-array")


#: The kinds of raw value that are one buffer, and their download's file extension.
_RAW_FLAT = {"str": "txt", "bytes": "bin", "bytearray": "bin", "memoryview": "bin"}


def _raw(view: memoryview, ref: ArtifactRef) -> Markup:
    """The first bytes of a raw value: a str's as text, other kinds' as hex."""
    kind = ref.metadata.get("kind")
    if kind not in _RAW_FLAT:
        count = ref.metadata.get("count")
        return _note(f"A {kind} of {count} bytes values, {view.nbytes:,} bytes in all.")
    head = bytes(view[:RAW_PREFIX])
    scope = f"First {len(head):,} of {view.nbytes:,} bytes"
    if kind == "str":
        text = head.decode("utf-8", "replace")
        if len(head) < view.nbytes:
            text = text.rstrip("\ufffd")  # a character cut at the prefix's end
        return el("div", _note(f"{scope}, as text."), _pre(text), class_="preview-raw")
    lines = [
        f"{start:08x}  {head[start : start + 16].hex(' ')}" for start in range(0, len(head), 16)
    ]
    return el("div", _note(f"{scope}, in hex."), _pre("\n".join(lines)), class_="preview-raw")


class Download:
    """A download: a file name, a media type and the bytes, produced in chunks."""

    def __init__(self, filename: str, media_type: str, chunks: Iterator[bytes]) -> None:
        self.filename, self.media_type, self.chunks = filename, media_type, chunks


def download_formats(ref: ArtifactRef) -> list[str]:
    """The formats this artifact can be downloaded in."""
    if ref.encoding == RAW:
        fmt = _RAW_FLAT.get(str(ref.metadata.get("kind")))
        return [fmt] if fmt else []
    return {ARROW: ["arrow"], NUMPY: ["npy"], MSGPACK: ["json"]}.get(ref.encoding, [])


def download(store: Datastore, ref: ArtifactRef, pathspec: str, fmt: str) -> Download:
    """The artifact as ``fmt`` (see :func:`download_formats`); ValueError otherwise."""
    if fmt not in download_formats(ref):
        raise ValueError(f"artifact '{pathspec}' ({ref.encoding}) cannot be downloaded as {fmt}")
    name = ref.name
    if fmt == "json":
        value = store.load(ref, pathspec=pathspec)
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"artifact '{pathspec}' is not JSON: {exc}") from exc
        return Download(f"{name}.json", "application/json", iter([text.encode()]))
    view = store.read_bytes(ref, pathspec=pathspec)
    if fmt == "txt":  # a str's UTF-8, as stored
        return Download(f"{name}.txt", "text/plain; charset=utf-8", _chunks(view))
    if fmt == "bin":
        return Download(f"{name}.bin", "application/octet-stream", _chunks(view))
    if fmt == "arrow":  # the blob is already an Arrow IPC file
        return Download(f"{name}.arrow", "application/vnd.apache.arrow.file", _chunks(view))
    header = _npy_header(ref)
    return Download(f"{name}.npy", "application/octet-stream", _chunks(view, header))


def _npy_header(ref: ArtifactRef) -> bytes:
    import numpy as np

    meta = ref.metadata
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(meta["dtype"])),
        "fortran_order": meta["order"] == "F",
        "shape": tuple(meta["shape"]),
    }
    out = io.BytesIO()
    np.lib.format.write_array_header_2_0(out, header)
    return out.getvalue()


def _chunks(view: memoryview, head: bytes = b"") -> Iterator[bytes]:
    if head:
        yield head
    for start in range(0, view.nbytes, _CHUNK):
        yield bytes(view[start : start + _CHUNK])
