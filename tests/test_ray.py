"""Ray behind the same seam: a short set (Ray takes 10-30 s to start and ~800 MB).

The executor conformance suite covers the contract on processes and Dask; here a
local Ray (started in a process of its own, ``tests/ray_probe.py``) runs a foreach,
a remote raise on asyncio and trio; a remote Ray with a local store is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncflow.exceptions import ExecutorError
from asyncflow.executors import open_executor
from asyncflow.store import Datastore
from asyncflow.store.urls import StoreURLs

from .conftest import REPO, run_python


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_flows_run_on_a_local_ray(tmp_path: Path, backend: str) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install asyncflow[ray])")
    root = tmp_path / "store"
    proc = run_python("-m", "tests.ray_probe", backend, str(root), root=root, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in got:
        pytest.skip(f"Ray cannot start on this machine: {got['skip']}")
    assert got["status"] == "successful", got["traceback"]
    assert got["outs"] == ["0:a", "1:b", "2:c", "3:d"]
    assert got["driver_pid"] not in got["pids"]
    assert got["stdout"] == [f"working on {x}" for x in "abcd"]
    assert got["remote"] == ["failed", "KeyError", got["local_traceback"]]


def test_a_remote_ray_cluster_is_refused_with_a_local_store(tmp_path: Path) -> None:
    executor = open_executor("ray://10.1.2.3:10001")
    with pytest.raises(ExecutorError, match="on this machine only"):
        executor.check_store(Datastore(tmp_path / "store").urls)
    executor.check_store(StoreURLs("s3://b/p", "postgresql://db.example.com/x"))
