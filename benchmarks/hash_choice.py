"""Why blobs are keyed by BLAKE3: its speed against SHA-256 over 256 MiB.

Run: ``python benchmarks/hash_choice.py`` (median of three runs per hash).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable

import blake3

SIZE = 256 << 20


def _median_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    view = memoryview(os.urandom(SIZE))
    results = {
        "sha256": lambda: hashlib.sha256(view).hexdigest(),
        "blake3, 1 thread": lambda: blake3.blake3(view).hexdigest(),
        "blake3, all threads": lambda: blake3.blake3(
            view, max_threads=blake3.blake3.AUTO
        ).hexdigest(),
    }
    for name, fn in results.items():
        seconds = _median_seconds(fn)
        print(f"{name:20s} {seconds * 1000:7.1f} ms  {SIZE / seconds / 2**30:5.2f} GiB/s")


if __name__ == "__main__":
    main()
