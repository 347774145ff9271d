"""The serializer benchmark runs end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_prints_one_row_per_value(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_serializers.py"),
            "--size-mb",
            "1",
            "--repeats",
            "1",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "size 1 MiB per value, median of 1 runs"
    assert lines[2].startswith("| value | encoding | MB | write s | pickle write s |")
    rows = [line.split(" | ")[:2] for line in lines[4:]]
    assert rows == [
        ["| numpy array", "numpy/1"],
        ["| pyarrow table", "arrow-ipc/1"],
        ["| pandas frame", "arrow-ipc/1"],
        ["| object holding an array", "cloudpickle/1"],
    ]
    assert all(line.count("|") == 13 for line in lines[2:])
    assert list(tmp_path.iterdir()) == []
