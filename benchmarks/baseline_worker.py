"""The baselines, each run in a fresh process; needs only numpy, pandas and pyarrow.

    python -m benchmarks.baseline_worker raw NBYTES DIR OUT
    python -m benchmarks.baseline_worker pickle-dump KIND NBYTES PATH OUT
    python -m benchmarks.baseline_worker pickle-load PATH OUT

``raw`` writes NBYTES already in memory to a new file in DIR (no fsync, like the
blob store's default): the limit any persist path can reach on that disk.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import numpy as np
import pandas  # noqa: F401  (imported before the baseline, like in the flow workers)
import pyarrow  # noqa: F401

from benchmarks import payloads, probe


def raw_write(nbytes: int, folder: str) -> dict[str, Any]:
    """Write ``nbytes`` of random data from memory to a file in ``folder``.

    The data is a fresh NumPy array, like the payloads' buffers (NumPy asks Linux
    for transparent huge pages; the first write from such memory was slower than
    from a ``bytes`` object in a quick test here).
    """
    floats = np.random.default_rng(1).random(-(-nbytes // 8))
    data = memoryview(floats.view(np.uint8).data)[:nbytes]
    path = os.path.join(folder, "raw-write.bin")
    phase = probe.Phase()
    phase.begin()
    with open(path, "wb", buffering=0) as f:
        while data.nbytes:
            data = data[f.write(data) :]
    phase.end()
    size = os.path.getsize(path)
    os.unlink(path)
    return {"persist_s": phase.seconds, "persist_cpu_s": phase.cpu_seconds, "disk_bytes": size}


def pickle_dump(kind: str, nbytes: int, path: str) -> dict[str, Any]:
    """Build a payload and ``pickle.dump`` it (protocol 5, in-band) to ``path``."""
    flow_rss = probe.rss()
    value = payloads.make(kind, nbytes)
    phase = probe.Phase()
    phase.begin()
    with open(path, "wb") as f:
        pickle.dump(value, f, protocol=5)
    phase.end()
    return {"persist_s": phase.seconds, "persist_cpu_s": phase.cpu_seconds, "flow_rss": flow_rss,
            "payload_rss": phase.rss_before - flow_rss, "peak_rss": phase.peak,
            "disk_bytes": os.path.getsize(path)}  # fmt: skip


def pickle_load(path: str) -> dict[str, Any]:
    """``pickle.load`` from ``path``, timed alone."""
    phase = probe.Phase()
    phase.begin()
    with open(path, "rb") as f:
        value = pickle.load(f)
    phase.end()
    return {"load_s": phase.seconds, "load_peak_delta": phase.peak - phase.rss_before,
            "type": type(value).__name__}  # fmt: skip


def main(argv: list[str]) -> None:
    """Dispatch one baseline; the result goes to the last argument as JSON."""
    command, *args, out = argv
    if command == "raw":
        result = raw_write(int(args[0]), args[1])
    elif command == "pickle-dump":
        result = pickle_dump(args[0], int(args[1]), args[2])
    elif command == "pickle-load":
        result = pickle_load(args[0])
    else:
        raise SystemExit(f"unknown command {command!r}")
    probe.write_result(out, result)


if __name__ == "__main__":
    main(sys.argv[1:])
