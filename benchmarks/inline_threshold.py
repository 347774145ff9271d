"""Where small values should live: inline in SQLite, or one blob file each.

For each size, persists N distinct values through the real ``Datastore`` and
commits them as a task would, then loads them back in a fresh ``Datastore``;
once with every value inline and once with every value in its own file.

Run: ``python benchmarks/inline_threshold.py`` (prints microseconds per value).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from asyncflow.store import Datastore, TaskRecord

SIZES = [1 << 10, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20]
TOTAL_BYTES = 32 << 20  # per size and mode, so large sizes stay quick
MAX_VALUES = 400


def _one(root: Path, size: int, inline: bool) -> tuple[float, float]:
    store = Datastore(root, inline_threshold=1 << 30 if inline else 0)
    run = store.metadata.create_run("Bench", "bench", {}, [], [])
    count = max(8, min(MAX_VALUES, TOTAL_BYTES // size))
    values = [os.urandom(size) for _ in range(count)]
    start = time.perf_counter()
    for i, value in enumerate(values):
        ref = store.persist("v", value, step="s")
        task = TaskRecord("Bench", run.run_id, "s", i + 1, "successful", 0, 0.0, 1.0)
        store.metadata.commit_task(task, [ref], {})
    persist = (time.perf_counter() - start) / count
    store.metadata.close()
    reader = Datastore(root)
    start = time.perf_counter()
    for i in range(count):
        (ref,) = reader.metadata.list_artifacts("Bench", run.run_id, i + 1)
        reader.load(ref)
    load = (time.perf_counter() - start) / count
    reader.metadata.close()
    return persist, load


def main() -> None:
    print(f"{'size':>8} {'inline persist':>15} {'file persist':>13} "
          f"{'inline load':>12} {'file load':>10}   (us per value, median of 3)")  # fmt: skip
    for size in SIZES:
        row: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(3):
            for inline in (True, False):
                with tempfile.TemporaryDirectory() as tmp:
                    row[inline].append(_one(Path(tmp), size, inline))
        med = {
            k: [statistics.median(x[i] for x in v) * 1e6 for i in (0, 1)] for k, v in row.items()
        }
        print(f"{size >> 10:>6}KB {med[True][0]:>15.0f} {med[False][0]:>13.0f} "
              f"{med[True][1]:>12.0f} {med[False][1]:>10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
