"""Persisting a large NumPy array against a raw write of the same bytes, in one process.

``python -m benchmarks.persist_speed [--size-mb 1024] [--repeats 5]`` prints a Markdown
table. Each round writes the array's bytes raw (``f.write`` of its buffer to a new file,
fsync-ed with fsync on) and persists it as a user pays for it: ``Datastore.persist``
(serialize, hash, write) and the commit of the task that references it (with fsync on,
both durable when it returns), alternating which goes first, on the same disk, each into a
fresh directory; then the same with fsync.
Dirty pages are flushed (``os.sync``) before every write so none pays for the one before.
Medians and the ratio persist / raw are reported, with the median of each round's own
ratio (``paired``: raw and persist a second apart, so a noisy neighbour or a slow patch of
memory hits both); the machine is shared: read ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def raw_write(data: Any, folder: Path, fsync: bool) -> float:
    """Seconds to write ``data``'s bytes to a new file (and fsync it)."""
    view = memoryview(data).cast("B")
    os.sync()
    t0 = time.perf_counter()
    with open(folder / "raw.bin", "wb", buffering=0) as f:
        while view.nbytes:
            view = view[f.write(view) :]
        if fsync:
            os.fsync(f.fileno())
    return time.perf_counter() - t0


def persist(data: Any, folder: Path, fsync: bool) -> float:
    """Seconds for ``Datastore.persist`` of ``data`` into a fresh store and the commit of
    the task that references it."""
    from asyncflow.store import Datastore, TaskRecord

    store = Datastore(folder / "store", fsync=fsync)
    try:
        run = store.metadata.create_run("Bench", "bench", {}, [], [])
        task = TaskRecord("Bench", run.run_id, "start", 1, "successful", 0, 0.0, 1.0)
        os.sync()
        t0 = time.perf_counter()
        ref = store.persist("payload", data, step="start")
        store.commit_task(task, [ref])
        return time.perf_counter() - t0
    finally:
        store.close()


def main(argv: list[str]) -> list[dict[str, float]]:
    """Measure, print the table, return its rows."""
    import numpy as np

    p = argparse.ArgumentParser(prog="python -m benchmarks.persist_speed")
    p.add_argument("--size-mb", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workdir", type=Path, default=None, help="scratch directory (same disk)")
    a = p.parse_args(argv)
    array = np.random.default_rng(0).random((a.size_mb << 20) // 8)
    rows = []
    for fsync in (False, True):
        raws: list[float] = []
        persists: list[float] = []
        for r in range(a.repeats):
            with tempfile.TemporaryDirectory(prefix="bench-persist-", dir=a.workdir) as tmp:
                folder = Path(tmp)
                order = (raw_write, persist) if r % 2 == 0 else (persist, raw_write)
                for fn in order:
                    took = fn(array, folder, fsync)
                    (raws if fn is raw_write else persists).append(took)
                    shutil.rmtree(folder, ignore_errors=True)
                    folder.mkdir()
        raw, kept = statistics.median(raws), statistics.median(persists)
        paired = statistics.median(p / r for p, r in zip(persists, raws, strict=True))
        rows.append({"fsync": float(fsync), "size_mb": float(a.size_mb), "raw_s": raw,
                     "persist_s": kept, "ratio": kept / raw, "paired": paired})  # fmt: skip
    print(table(rows))
    return rows


def table(rows: list[dict[str, float]]) -> str:
    """The rows as Markdown."""
    lines = ["| NumPy array | fsync | raw write | asyncflow persist | persist / raw | paired |",
             "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['size_mb']:.0f} MiB | {'yes' if r['fsync'] else 'no'} | {r['raw_s']:.3f} s "
            f"| {r['persist_s']:.3f} s | {r['ratio']:.2f}x | {r['paired']:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
