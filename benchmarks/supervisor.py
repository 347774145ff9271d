"""What the command line's supervising parent costs a tutorial-size run.

``python -m benchmarks.supervisor [--pairs N]``: the tutorial flow's whole ``run``, with and
without the supervisor (``ASYNCFLOW_SUPERVISOR=off``), in pairs whose order alternates;
prints the medians and the median of the paired differences (wall clock and CPU).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import REPO


def one(flow: str, home: Path, supervised: bool) -> tuple[float, float]:
    """Wall-clock and CPU (user + system, the process and its children) seconds of one run."""
    env = {**os.environ, "ASYNCFLOW_HOME": str(home), "PYTHONPATH": str(REPO)}
    if not supervised:
        env["ASYNCFLOW_SUPERVISOR"] = "off"
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, flow, "run"], env=env, check=True, capture_output=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str]) -> dict[str, float]:
    """Measure and print; return the median paired differences (supervised - not), in s."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.supervisor")
    p.add_argument("--pairs", type=int, default=21)
    a = p.parse_args(argv)
    flow = str(REPO / "examples" / "artifact_flow.py")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "store"
        one(flow, home, False)  # the store exists before the first pair
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for i in range(a.pairs):
            for supervised in (True, False) if i % 2 else (False, True):
                runs[supervised].append(one(flow, home, supervised))
    diffs = {
        kind: statistics.median(s[k] - u[k] for s, u in zip(runs[True], runs[False], strict=True))
        for k, kind in enumerate(("wall", "cpu"))
    }
    print("| tutorial run | supervised | unsupervised | paired difference |\n|---|---:|---:|---:|")
    for k, kind in enumerate(("wall", "cpu")):
        on, off = (statistics.median(r[k] for r in runs[flag]) for flag in (True, False))
        diff = diffs[kind] * 1000
        print(f"| {kind} | {on * 1000:.1f} ms | {off * 1000:.1f} ms | {diff:+.1f} ms |")
    return diffs


if __name__ == "__main__":
    main(sys.argv[1:])
