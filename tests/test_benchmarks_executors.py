"""A tiny run of ``benchmarks/executors.py``: every figure is there, with its baseline.

No time is asserted: sizes are tiny and the machine is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_tiny_run_writes_every_figure(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.executors", "--quick", "--repeats", "1",
         "--out", str(out)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((out / "executors.json").read_text())
    assert results["cpu_processes"]["speedup"] > 0
    assert results["dask_bare"]["ratio"] > 0
    assert set(results["dask_workers"]) >= {"workers_1", "workers_2", "speedup"}
    table = (out / "executors.md").read_text()
    assert table.count("\n| ") == 5  # the header and four figures
