"""Soak: many runs of a flow with random failures, SIGKILLs at random store points, and
resumes; afterwards every committed artifact reads back exactly and the store verifies.

``ASYNCFLOW_SOAK_ROUNDS`` sets the number of rounds (default 3, what CI runs);
``ASYNCFLOW_SOAK_SEED`` replays one sequence.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow import Flow, Run
from asyncflow.store import Datastore
from asyncflow.store.faults import ENV
from asyncflow.store.maintenance import verify
from tests.flows.soak import payload

from .conftest import REPO

SCRIPT = str(REPO / "tests" / "flows" / "soak.py")
ROUNDS = int(os.environ.get("ASYNCFLOW_SOAK_ROUNDS", "3"))
SEED = int(os.environ.get("ASYNCFLOW_SOAK_SEED", "20261127"))
FAULTS = ["blob-write", "blob-rename", *(f"commit-task@{k}" for k in range(1, 9))]


def _flow(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ASYNCFLOW_HOME": str(root), "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=root.parent, env=full, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


def _one_round(root: Path, rng: random.Random, number: int) -> None:
    """Run once (maybe killed, maybe failing), then resume until the flow succeeds."""
    n, scale = rng.randint(1, 6), rng.randint(1, 9)
    env = {"SOAK_SEED": f"{number}/0"}
    if rng.random() < 0.5:
        env[ENV] = rng.choice(FAULTS)
    proc = _flow(root, "run", "--n", str(n), "--scale", str(scale), env=env)
    assert proc.returncode in (0, 1, -9), proc.stderr
    for attempt in range(1, 20):
        if proc.returncode == 0:
            return
        env = {"SOAK_SEED": f"{number}/{attempt}"}
        if rng.random() < 0.3:
            env[ENV] = rng.choice(FAULTS)
        proc = _flow(root, "resume", env=env)
        assert proc.returncode in (0, 1, -9), proc.stderr
    raise AssertionError(f"round {number} never succeeded")


def _check_run(run: Run) -> None:
    """Every committed artifact of ``run`` reads back; a successful run's values are exact."""
    for step in run:
        for task in step:
            for artifact in task:
                artifact.data  # noqa: B018 - decoding checks size and (small) hashes
    if not run.successful:
        return
    end = run.end_task
    assert end is not None
    n, scale = end.data.n, end.data.scale
    assert end.data.summary == {
        "total": sum(i * i + scale for i in range(n)),
        "payload_len": len(payload(n)),
    }
    start = run["start"].task
    assert start is not None and start.data.payload == payload(n)


@pytest.mark.slow
def test_soak_random_failures_kills_and_resumes(store_root: Path) -> None:
    rng = random.Random(SEED)
    for number in range(ROUNDS):
        _one_round(store_root, rng, number)
    runs = Flow("SoakFlow", root=store_root).runs()
    assert sum(r.successful for r in runs) == ROUNDS
    for run in runs:
        _check_run(run)
    report = verify(Datastore(store_root))
    assert report.problems == []
    console = subprocess.run(
        [sys.executable, "-m", "asyncflow", "--datastore-root", str(store_root), "verify"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert console.returncode == 0, console.stdout
    assert console.stdout.endswith(": 0 problems\n")
