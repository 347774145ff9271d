"""What reading a store you cannot trust costs: verified reads and Arrow IPC validation.

Run: ``python -m benchmarks.trust_costs`` (64 MiB payloads, quick) or
``python -m benchmarks.trust_costs --size-mb 1024`` (the 1 GiB figures of
``benchmarks/README.md``). Each payload is persisted once into a fresh store; then, in
interleaved rounds (median of ``--repeats``), from the page cache:

- **verification**: a load with no hash (the serializer on the blob's memory map, what
  loads cost before verified reads) against the first verified load of a fresh
  :class:`~asyncflow.store.Datastore` (the whole blob hashed, Arrow IPC validated), and
  its second load in the same process (trusted: the file's stamp is unchanged, and the
  same bytes were validated);
- **IPC validation** (Arrow payloads): reading the IPC file as a table without
  validation against the same read plus ``validate(full=True)`` (what the serializer does).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncflow.store import ArtifactRef, Datastore
from serializers import Registry

from . import payloads

KINDS = ("arrow_table", "frame_strings", "numpy_array")
ARROW_KINDS = ("arrow_table", "frame_strings")


def _seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _unverified(store: Datastore, ref: ArtifactRef) -> Any:
    view = store.blobs.get(ref.key)
    return store.registry.deserialize(ref.encoding, view, ref.metadata)


def _verified_twice(root: Path, ref: ArtifactRef) -> tuple[float, float]:
    # a fresh verifier and registry: nothing hashed or validated yet, as in a new process
    store = Datastore(root, registry=Registry())
    try:
        return _seconds(lambda: store.load(ref)), _seconds(lambda: store.load(ref))
    finally:
        store.close()


def _ipc_read(store: Datastore, ref: ArtifactRef, validate: bool) -> Any:
    import pyarrow as pa

    table = pa.ipc.open_file(pa.py_buffer(store.blobs.get(ref.key))).read_all()
    if validate:
        table.validate(full=True)
    return table


def measure(kind: str, nbytes: int, repeats: int, workdir: Path) -> dict[str, Any]:
    """The medians of one payload; every figure in seconds."""
    root = workdir / kind
    store = Datastore(root)
    ref = store.persist("x", payloads.make(kind, nbytes), step="s")
    samples: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    for _ in range(repeats):
        add("unverified_load_s", _seconds(lambda: _unverified(store, ref)))
        first, second = _verified_twice(root, ref)
        add("verified_first_load_s", first)
        add("verified_second_load_s", second)
        if kind in ARROW_KINDS:
            add("ipc_read_s", _seconds(lambda: _ipc_read(store, ref, validate=False)))
            add("ipc_read_validated_s", _seconds(lambda: _ipc_read(store, ref, validate=True)))
    store.close()
    row: dict[str, Any] = {"payload": kind, "blob_bytes": ref.size, "repeats": repeats}
    row.update({name: statistics.median(values) for name, values in samples.items()})
    return row


def report(rows: list[dict[str, Any]]) -> str:
    """The rows as two markdown tables."""
    lines = [
        "| payload | blob | load, no hash | first verified load | ratio | second load |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        plain, first = r["unverified_load_s"], r["verified_first_load_s"]
        lines.append(
            f"| {r['payload']} | {r['blob_bytes'] / 2**20:,.0f} MiB | {plain * 1000:.1f} ms "
            f"| {first * 1000:.1f} ms | {first / plain:.1f}x "
            f"| {r['verified_second_load_s'] * 1000:.1f} ms |"
        )
    lines += [
        "",
        "| payload | IPC read | read + validate(full=True) | validation alone | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "ipc_read_s" in r:
            plain, checked = r["ipc_read_s"], r["ipc_read_validated_s"]
            lines.append(
                f"| {r['payload']} | {plain * 1000:.1f} ms | {checked * 1000:.1f} ms "
                f"| {(checked - plain) * 1000:.1f} ms | {checked / plain:.1f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=64, help="payload size (1024: 1 GiB)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch stores go here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        rows = [measure(k, args.size_mb << 20, args.repeats, Path(scratch)) for k in KINDS]
    print(report(rows))


if __name__ == "__main__":
    main()
