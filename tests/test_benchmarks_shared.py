"""A tiny run of ``python -m benchmarks.shared_stores``: both benchmarks run against the
servers it starts, and its tables have their shape. No time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.servers import S3Server


def test_tiny_run_prints_both_tables_and_keeps_every_sample(
    tmp_path: Path, s3_server: S3Server
) -> None:  # s3_server: skips where SeaweedFS cannot start
    out = tmp_path / "samples.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.shared_stores", "--sizes-mb", "1", "--repeats", "1",
         "--tasks", "20", "--json", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if "PostgreSQL is not installed" in proc.stderr:
        pytest.skip("no PostgreSQL here")
    assert proc.returncode == 0, proc.stderr
    assert "| frame_numeric | 1 MiB |" in proc.stdout and "| numpy_array | 1 MiB |" in proc.stdout
    assert "| postgresql | groups of 16 |" in proc.stdout
    results = json.loads(out.read_text())
    assert [(r["payload"], r["size_mb"]) for r in results["s3"]] == [
        ("frame_numeric", 1), ("numpy_array", 1)
    ]  # fmt: skip
    assert all(r["persist_ratio"] > 0 and r["load_ratio"] > 0 for r in results["s3"])
    assert {(r["database"], r["mode"]) for r in results["commit"]} == {
        (db, mode) for db in ("sqlite", "postgresql")
        for mode in ("one per transaction", "groups of 16")
    }  # fmt: skip
    assert not (tmp_path / ".asyncflow").exists()  # its lease files stayed in its temp dirs


def test_the_upload_shape_profile_runs_tiny(tmp_path: Path, s3_server: S3Server) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.s3_upload_shape", "--size-mb", "1", "--rounds", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "round 0 single PUT", "round 0 multipart", "round 0 asyncflow"
    ]  # fmt: skip
    assert " = get " in lines[2] and " + BLAKE3 " in lines[2] and " + decode " in lines[2]
