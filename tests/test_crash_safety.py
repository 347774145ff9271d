"""Crashes, Ctrl-C and full disks, each against a real subprocess running a real flow.

Faults land at exact points: the store's fault-injection hook
(``ASYNCFLOW_FAULT_INJECT``) kills the process or fails a write at a named point,
and a fifo tells the test when a task is running so it can send SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow import Run
from asyncflow.store import Datastore
from asyncflow.store.faults import ENV
from asyncflow.store.maintenance import verify
from tests.flows.crashable import big_value

from .conftest import REPO, run_python

SCRIPT = str(REPO / "tests" / "flows" / "crashable.py")


def _run(root: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {ENV: fault} if fault else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_python(SCRIPT, *args, root=root)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_store(root: Path) -> None:
    report = verify(Datastore(root))
    assert report.problems == []


def _resume_and_check(root: Path, origin: str) -> Run:
    proc = _run(root, "resume")
    assert proc.returncode == 0, proc.stderr
    assert "Cloning results of a previously run task CrashFlow/1/start/1" in proc.stdout
    run = Run("CrashFlow/2")
    assert run.successful and run.origin_pathspec == origin
    assert run.data is not None and run.data.squares == [1, 4, 9]
    assert run.data.blob == big_value()
    _check_store(root)
    return run


# Task commits in order: start 1, work 2-4, join 5, big 6, end 7.
@pytest.mark.parametrize(
    ("fault", "visible_steps"),
    [
        ("blob-write", ["start", "work", "join"]),  # big's 12 MiB blob a third written
        ("blob-rename", ["start", "work", "join"]),  # big's blob whole, not renamed yet
        ("commit-task@6", ["start", "work", "join"]),  # big's rows inserted, not committed
        ("commit-task@2", ["start"]),  # the first foreach task committing
    ],
)
def test_a_process_killed_at_any_point_leaves_a_consistent_store(
    store_root: Path, fault: str, visible_steps: list[str]
) -> None:
    proc = _run(store_root, "run", fault=fault)
    assert proc.returncode == -signal.SIGKILL
    run = Run("CrashFlow/1")
    assert not run.finished and run.status == "running" and run.crashed
    assert [s.id for s in run.steps()] == visible_steps
    start = run["start"].task
    assert start is not None and start.data.small == "committed before the crash"
    assert "big" not in run
    if fault.startswith("blob"):
        assert list(Datastore(store_root).blobs.keys()) == []  # no half-written blob visible
    _check_store(store_root)
    _resume_and_check(store_root, "CrashFlow/1")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("blob-write:enospc", "No space left on device (injected at blob-write)"),
        ("blob-rename:eacces", "Permission denied (injected at blob-rename)"),
        ("commit-task@6:enospc", "No space left on device (injected at commit-task)"),
    ],
)
def test_a_failed_write_fails_the_run_clearly_and_shows_nothing_half_done(
    store_root: Path, fault: str, message: str
) -> None:
    proc = _run(store_root, "run", fault=fault)
    assert proc.returncode == 1
    assert message in proc.stdout
    assert proc.stderr.endswith("Run CrashFlow/1 failed in CrashFlow/1/big/6.\n")
    run = Run("CrashFlow/1")
    assert run.finished and run.status == "failed" and not run.crashed
    assert run.failed_pathspec == "CrashFlow/1/big/6"
    assert run.exception is not None and message in run.exception
    if fault.startswith("commit-task"):
        assert "big" not in run  # even the failure record could not be written
    else:
        big = run["big"].task
        assert big is not None and not big.successful and [a.id for a in big] == []
        assert big.exception is not None and message in big.exception.stacktrace
        assert list(Datastore(store_root).blobs.keys()) == []
    _check_store(store_root)
    _resume_and_check(store_root, "CrashFlow/1")


def _default_sigint() -> None:
    # A test run started as a background job inherits SIGINT ignored, and Python keeps
    # an ignored SIGINT ignored: the flow would never see the Ctrl-C this test sends.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("kind", "sig", "why", "code"),
    [
        ("async", signal.SIGINT, "Ctrl-C", 130),
        ("sync", signal.SIGINT, "Ctrl-C", 130),  # the blocked thread is abandoned
        ("async", signal.SIGTERM, "SIGTERM", 143),
    ],
)
def test_ctrl_c_or_sigterm_cancels_the_run_and_resume_continues_it(
    store_root: Path, tmp_path: Path, kind: str, sig: signal.Signals, why: str, code: int
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(store_root),
        "PYTHONPATH": str(REPO),
        "CRASH_GATE": str(gate),
        "CRASH_GATE_KIND": kind,
    }
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, "run"], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint,
    )  # fmt: skip
    try:
        with open(gate) as ready:  # blocks until task work[2] is running
            assert ready.readline() == "ready\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    flow = "SyncCrashFlow" if kind == "sync" else "CrashFlow"
    assert proc.returncode == code, err
    assert err.endswith(f"Run {flow}/1 was cancelled ({why}); `resume` continues it.\n")
    assert f"Run {flow}/1 cancelled." in out
    run = Run(f"{flow}/1")
    assert run.finished and run.status == "cancelled" and not run.successful
    done = [t.index for s in run.steps() if s.id == "work" for t in s if t.successful]
    assert 1 not in done  # work[1] was cancelled while running; it never committed
    env.pop("CRASH_GATE")
    resumed = subprocess.run(
        [sys.executable, SCRIPT, "resume"], env=env, cwd=tmp_path, text=True,
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    new = Run(f"{flow}/2")
    assert new.successful and new.origin_pathspec == f"{flow}/1"
    assert new.data is not None and new.data.squares == [1, 4, 9]
