"""Serializers against plain pickle and raw file I/O, in the same run.

For each value (about --size-mb of float64 data): time to serialize through
the default registry and write the buffers to a file, and to load it back
from a memory map; the same with ``pickle.dump``/``pickle.load`` (protocol 5,
in band) and with a raw write/read of as many bytes. Medians of --repeats.
Files are not fsynced, so loads read a warm page cache, and memory-mapped
loads are lazy: pages are read on first access.

    PYTHONPATH=. python benchmarks/bench_serializers.py --size-mb 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import mmap
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from serializers import default_registry

COLUMNS = 8


@dataclasses.dataclass
class Holder:
    """An arbitrary object with a large array inside: the cloudpickle case."""

    name: str
    weights: np.ndarray[Any, Any]


@dataclasses.dataclass
class Timings:
    value: str
    encoding: str
    size: int
    write: float
    load: float
    pickle_write: float
    pickle_load: float
    raw_write: float
    raw_read: float


def make_values(size_mb: float) -> dict[str, Callable[[], Any]]:
    """Factories of the benchmarked values, each holding about ``size_mb`` of float64."""
    rows = max(1, int(size_mb * 2**20) // 8 // COLUMNS)
    data = np.random.default_rng(0).random(rows * COLUMNS).reshape(COLUMNS, rows)

    def table() -> Any:
        import pyarrow as pa

        return pa.table({f"c{i}": data[i] for i in range(COLUMNS)})

    def frame() -> Any:
        import pandas as pd

        return pd.DataFrame({f"c{i}": data[i] for i in range(COLUMNS)})

    return {
        "numpy array": lambda: data,
        "pyarrow table": table,
        "pandas frame": frame,
        "object holding an array": lambda: Holder("model", data),
    }


def median_time(action: Callable[[], Any], repeats: int) -> float:
    """The median wall time of ``action`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def mapped(path: Path) -> Iterator[memoryview]:
    """A read-only memory map of ``path``, as the engine reads blobs."""
    with path.open("rb") as file:
        yield memoryview(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))


def bench_value(name: str, value: Any, folder: Path, repeats: int) -> Timings:
    """Time one value through the registry, pickle, and raw I/O."""
    registry = default_registry()
    blob, pickled, raw = folder / "blob", folder / "pickle", folder / "raw"
    encoded = registry.serialize(value)

    def write() -> None:
        buffers = registry.serialize(value).buffers
        with blob.open("wb") as file:
            for buffer in buffers:
                file.write(buffer)

    def load() -> None:
        with mapped(blob) as view:
            registry.deserialize(encoded.encoding, view, encoded.metadata)

    def pickle_write() -> None:
        with pickled.open("wb") as file:
            pickle.dump(value, file, protocol=5)

    def pickle_load() -> None:
        with pickled.open("rb") as file:
            pickle.load(file)

    source = np.ones(encoded.size, dtype=np.uint8)
    target = bytearray(encoded.size)

    def raw_write() -> None:
        with raw.open("wb") as file:
            file.write(source.data)

    def raw_read() -> None:
        with raw.open("rb") as file:
            file.readinto(target)

    timings = Timings(
        value=name,
        encoding=encoded.encoding,
        size=encoded.size,
        write=median_time(write, repeats),
        load=median_time(load, repeats),
        pickle_write=median_time(pickle_write, repeats),
        pickle_load=median_time(pickle_load, repeats),
        raw_write=median_time(raw_write, repeats),
        raw_read=median_time(raw_read, repeats),
    )
    for path in (blob, pickled, raw):
        path.unlink()
    return timings


def markdown(results: list[Timings]) -> str:
    """The results as a Markdown table of seconds and ratios."""
    lines = [
        "| value | encoding | MB | write s | pickle write s | raw write s | write / pickle "
        "| write / raw | load s | pickle load s | raw read s | load / pickle |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.value} | {r.encoding} | {r.size / 2**20:.1f} | {r.write:.4f} "
            f"| {r.pickle_write:.4f} | {r.raw_write:.4f} | {_ratio(r.write, r.pickle_write)} "
            f"| {_ratio(r.write, r.raw_write)} | {r.load:.4f} | {r.pickle_load:.4f} "
            f"| {r.raw_read:.4f} | {_ratio(r.load, r.pickle_load)} |"
        )
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b > 0 else "n/a"


def main(argv: list[str] | None = None) -> None:
    """Run every case and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="data per value (MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for name, factory in make_values(args.size_mb).items():
            results.append(bench_value(name, factory(), Path(folder), args.repeats))
            gc.collect()
    print(f"size {args.size_mb:g} MiB per value, median of {args.repeats} runs")
    print()
    print(markdown(results))


if __name__ == "__main__":
    main()
