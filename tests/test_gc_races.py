"""gc beside live writers, as real processes racing each other, many times over.

CI runs a short version; ``-m slow`` (or ``ASYNCFLOW_GC_RACE_ROUNDS``) runs the long one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow.store import Datastore
from asyncflow.store.maintenance import verify

from .conftest import REPO
from .flows.gc_race import FLOW, expected

ROUNDS = int(os.environ.get("ASYNCFLOW_GC_RACE_ROUNDS", "2"))


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.flows.gc_race", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def _race(root: Path, grace: float, writers: list[list[str]]) -> tuple[list[str], int]:
    """Run ``writers`` beside a gc loop; their outputs and the number of gc passes."""
    stop = root.parent / f"stop-{root.name}"
    Datastore(root).close()  # the store exists before anyone races to create it
    gc = _spawn("collector", str(root), str(grace), str(stop))
    procs = [_spawn(*args) for args in writers]
    try:
        outputs = [_finish(p) for p in procs]
    finally:
        stop.touch()
    return outputs, int(_finish(gc))


def _check_successful_runs_intact(root: Path) -> int:
    """Every artifact of every successful run loads, with its value; how many."""
    store = Datastore(root)
    report = verify(store)
    assert [p for p in report.problems if p.artifacts] == []
    checked = 0
    for run in store.metadata.list_runs(FLOW, status="successful"):
        for task in store.metadata.list_tasks(FLOW, run.run_id):
            for ref in store.metadata.list_artifacts(FLOW, run.run_id, task.task_id):
                assert store.load(ref) == expected(run.pathspec, ref.name), ref
                checked += 1
    store.close()
    return checked


def _writers_and_gc_lose_nothing(tmp_path: Path, rounds: int, runs: int, tasks: int) -> None:
    for number in range(rounds):
        root = tmp_path / f"store{number}"
        writer = ["writer", str(root), str(runs), str(tasks)]
        _, passes = _race(root, 0.0, [writer] * 4)
        assert passes > 0
        assert _check_successful_runs_intact(root) == 4 * runs * (1 + 3 * tasks)
        assert list((root / "blobs" / "tmp").iterdir()) == []


def test_four_writers_beside_a_gc_loop_with_no_grace_lose_nothing(tmp_path: Path) -> None:
    _writers_and_gc_lose_nothing(tmp_path, ROUNDS, runs=3, tasks=8)


@pytest.mark.slow
def test_four_writers_beside_a_gc_loop_lose_nothing_many_times(tmp_path: Path) -> None:
    _writers_and_gc_lose_nothing(tmp_path, 20, runs=10, tasks=20)


def _long_lease_survives(tmp_path: Path, rounds: int, rotations: int) -> None:
    for number in range(rounds):
        root = tmp_path / f"store{number}"
        outputs, passes = _race(root, 3600.0, [["long_lease", str(root), str(rotations)]])
        assert passes > 0
        assert _check_successful_runs_intact(root) == 1 + rotations
        assert Datastore(root).blobs.exists(outputs[0].strip())


def test_a_long_leased_blob_survives_its_lease_rotating_under_a_gc_loop(tmp_path: Path) -> None:
    _long_lease_survives(tmp_path, ROUNDS, rotations=150)


@pytest.mark.slow
def test_a_long_leased_blob_survives_thousands_of_rotations(tmp_path: Path) -> None:
    _long_lease_survives(tmp_path, 10, rotations=1000)
