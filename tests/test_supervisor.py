"""The command line's supervising parent: a step that kills the flow's process does not
end the run; it goes on in place, its unfinished tasks each in its own process.

Every flow runs through the real CLI in a subprocess (tests/flows/suicidal.py).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from asyncflow import Run, Task
from asyncflow.store import Datastore

from .conftest import REPO, run_python

SCRIPT = str(REPO / "tests" / "flows" / "suicidal.py")
CRASHABLE = str(REPO / "tests" / "flows" / "crashable.py")
FAILURE_HANDLED = "metaflow.plugins.catch_decorator.FailureHandledByCatch"

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "sigwaitinfo"), reason="the supervisor needs fork and sigwaitinfo"
)


def run_flow(root: Path, which: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        SCRIPT, "run", *args, root=root,
        env={"SUICIDE": which, "SUICIDE_DIR": str(root.parent), **env},
    )  # fmt: skip


def only(run: Run, step: str) -> Task:
    task = run[step].task
    assert task is not None, f"{run.pathspec} has no task in {step}"
    return task


def attempts(task: Task) -> list[str]:
    return sorted(m.value for m in task.metadata if m.type == "attempt")


def test_a_step_that_kills_the_process_is_retried_and_caught_in_its_own(
    store_root: Path, tmp_path: Path
) -> None:
    id_file = tmp_path / "run-id"
    proc = run_flow(store_root, "linear", "--run-id-file", str(id_file))
    assert proc.returncode == 0, proc.stderr
    assert (
        "The process running LinearFlow/1 was killed by signal 9 (SIGKILL: killed); the run "
        "continues, its unfinished tasks each in its own process.\n"
    ) in proc.stderr
    assert id_file.read_text() == "1"  # the same run, continued in place
    assert proc.stdout.count("Workflow starting (run-id 1):") == 1
    assert "Workflow continuing (run-id 1):" in proc.stdout
    assert "[1/start/1] Task had finished before the process died; keeping its results." in (
        proc.stdout
    )
    assert "Cloning results" not in proc.stdout
    run = Run("LinearFlow/1")
    assert run.successful and not run.crashed
    assert [s.id for s in run.steps()] == ["start", "die", "end"]
    start = list(run["start"])
    assert len(start) == 1 and start[0].id == "1"  # reused as it was: no new row
    assert start[0].data.before != os.getpid()
    die = only(run, "die")
    assert attempts(die) == ["0", "1", "2", "3"]
    ex = die["ex"].data
    assert str(ex.type) == FAILURE_HANDLED
    assert ex.exception == (
        "Task execution kept failing over 3 attempts. Your code did not raise an exception. "
        "Something in the execution environment caused the failure."
    )
    assert only(run, "end").data.seen == FAILURE_HANDLED
    for attempt in range(3):  # each worker's death is recorded with its output
        failed = Task(die.pathspec, attempt=attempt)
        assert failed.stdout == f"dying in attempt {attempt}\n"
        assert "was killed by signal 9 (SIGKILL: killed)" in failed.stderr


def test_a_task_that_recorded_an_attempt_keeps_its_id_and_its_attempts(
    store_root: Path,
) -> None:
    proc = run_flow(store_root, "raise-then-die")
    assert proc.returncode == 0, proc.stderr
    run = Run("RaiseThenDieFlow/1")
    assert run.successful
    die = only(run, "die")
    assert die.id == "2"  # the id it had in the process that died
    # attempt 1 died with the flow's process: not counted, it runs again in a worker
    assert [(a.number, a.status) for a in die.attempts] == [
        (0, "failed"), (1, "failed"), (2, "failed"), (3, "successful"),
    ]  # fmt: skip
    assert attempts(die) == ["0", "1", "2", "3"]
    assert "ValueError: not yet" in Task(die.pathspec, attempt=0).stderr
    for attempt in (1, 2):
        failed = Task(die.pathspec, attempt=attempt)
        assert failed.stdout == f"attempt {attempt}\n"
        assert "was killed by signal 9" in failed.stderr
    assert str(die["ex"].data.type) == FAILURE_HANDLED
    assert Datastore(store_root).metadata.list_unfinished("RaiseThenDieFlow", 1) == []


def test_a_resumed_run_whose_process_dies_is_continued_in_place_too(store_root: Path) -> None:
    assert run_flow(store_root, "resume", PHASE="fail").returncode == 1
    proc = run_python(SCRIPT, "resume", root=store_root, env={"SUICIDE": "resume", "PHASE": "die"})
    assert proc.returncode == 0, proc.stderr
    assert "The process running ResumeDieFlow/2 was killed by signal 9" in proc.stderr
    run = Run("ResumeDieFlow/2")
    assert run.successful and run.origin_pathspec == "ResumeDieFlow/1"
    [start] = list(run["start"])  # cloned once, then kept as it was
    assert start.origin_pathspec == only(Run("ResumeDieFlow/1"), "start").pathspec
    work = only(run, "work")
    assert [(a.number, a.status) for a in work.attempts] == [(0, "failed"), (1, "successful")]
    assert "was killed by signal 9" in Task(work.pathspec, attempt=0).stderr


def test_every_task_of_a_foreach_killing_the_process_is_caught(store_root: Path) -> None:
    proc = run_flow(store_root, "foreach")
    assert proc.returncode == 0, proc.stderr
    run = Run("ForeachFlow/1")
    assert run.successful and not run.crashed
    inner = list(run["inner"])
    assert sorted(t.index or 0 for t in inner) == [0, 1, 2, 3]
    assert all(attempts(t) == ["0", "1", "2"] for t in inner)  # 2 attempts + the fallback
    assert only(run, "join").data.types == [FAILURE_HANDLED] * 4


def test_a_gangs_control_task_alone_gets_the_fallback_attempt(store_root: Path) -> None:
    proc = run_flow(store_root, "parallel")
    assert proc.returncode == 0, proc.stderr
    run = Run("GangFlow/1")
    assert run.successful
    nodes = list(run["node"])
    control = [t for t in nodes if t.metadata_dict.get("internal_task_type") == "control_task"]
    assert [t.id for t in control] == [nodes[0].id]
    assert attempts(nodes[0]) == ["0", "1", "2"]  # 2 attempts and the fallback
    assert all(attempts(t) == ["0", "1"] for t in nodes[1:])  # recovered in their last
    assert str(nodes[0]["ex"].data.type) == FAILURE_HANDLED
    last = Task(nodes[1].pathspec, attempt=1)
    assert "was killed by signal 9" in last.stderr  # the failed attempt's log is kept


def test_a_gang_runs_at_once_in_the_continued_runs_workers(store_root: Path) -> None:
    proc = run_python(
        SCRIPT, "run", "--max-workers", "4", root=store_root,
        env={"SUICIDE": "gang-meets", "SUICIDE_DIR": str(store_root.parent)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = Run("GangMeetsFlow/1")
    assert run.successful and len(list(run["node"])) == 3


def test_an_innocent_task_in_flight_as_the_process_died_runs_again_from_attempt_0(
    store_root: Path,
) -> None:
    proc = run_flow(store_root, "one")
    assert proc.returncode == 0, proc.stderr
    run = Run("OneFlow/1")
    assert run.successful
    by_index = {t.index: t for t in run["inner"]}
    assert attempts(by_index[0]) == ["0", "1"]  # the culprit: its attempt and the fallback
    for index in (1, 2):  # run again in a worker, not counted as a retry
        assert attempts(by_index[index]) == ["0"]
        assert by_index[index].data.pid != only(run, "start").data.first_pid
    assert only(run, "join").data.retries == [None, 0, 0]  # nothing of the culprit's is kept
    ids = [int(t.id) for t in run["inner"]]
    assert len(set(ids)) == 3 and min(ids) > int(only(run, "start").id)


def test_a_step_calling_os_exit_is_caught_in_its_own_process(store_root: Path) -> None:
    proc = run_flow(store_root, "exit")
    assert proc.returncode == 0, proc.stderr
    assert "The process running ExitFlow/1 exited with code 3; the run continues" in proc.stderr
    run = Run("ExitFlow/1")
    assert run.successful and only(run, "end").data.seen == FAILURE_HANDLED
    start = only(run, "start")
    assert "exited with code 3 before the task finished" in Task(start.pathspec, attempt=0).stderr


def test_a_segfault_in_end_fails_the_run_with_its_logs(store_root: Path) -> None:
    proc = run_flow(store_root, "segfault")
    assert proc.returncode == 1
    assert "killed by signal 11 (SIGSEGV: segmentation fault); the run continues" in proc.stderr
    assert "Run SegfaultEndFlow/1 failed in SegfaultEndFlow/1/end/" in proc.stderr
    run = Run("SegfaultEndFlow/1")
    assert run.status == "failed" and not run.crashed
    end = only(run, "end")
    assert not end.successful
    assert "Crash and burn!" in end.stdout  # printed before the crash, kept in the log
    assert "was killed by signal 11 (SIGSEGV: segmentation fault)" in end.stderr
    assert "Fatal Python error: Segmentation fault" in end.stderr


def test_the_engine_dying_while_it_continues_the_run_fails_it(store_root: Path) -> None:
    # start dies in the flow's process, then in its worker; the engine continuing the
    # run is killed as it commits @catch's fallback attempt: no third process starts.
    proc = run_flow(store_root, "catch-first", ASYNCFLOW_FAULT_INJECT="commit-task:kill-process")
    assert proc.returncode == 1
    why = "the engine continuing CatchFirstFlow/1 was killed by signal 9 (SIGKILL: killed)"
    assert proc.stderr.count("the run continues") == 1
    assert proc.stderr.endswith(f"Run CatchFirstFlow/1 failed: {why}.\n")
    run = Run("CatchFirstFlow/1")
    assert run.status == "failed" and not run.crashed
    assert run.exception is not None and why in str(run.exception)


def _gated(store_root: Path, tmp_path: Path) -> subprocess.Popen[str]:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    env = {
        **os.environ, "ASYNCFLOW_HOME": str(store_root), "PYTHONPATH": str(REPO),
        "CRASH_GATE": str(gate),
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, CRASHABLE, "run"], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    with open(gate) as ready:  # blocks until task work[2] is running
        assert ready.readline() == "ready\n"
    return proc


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_to_the_parent_cancels_and_never_continues(
    store_root: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    proc = _gated(store_root, tmp_path)
    try:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "continues, its unfinished tasks" not in err
    assert Run("CrashFlow/1").status == "cancelled"


def test_ctrl_c_on_the_terminal_cancels_the_run_and_never_continues_it(
    store_root: Path, tmp_path: Path
) -> None:
    # The terminal sends SIGINT to the whole foreground group, parent and child alike.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    master, slave = pty.openpty()
    terminal = os.ttyname(slave)

    def on_its_own_terminal() -> None:
        os.setsid()
        fd = os.open(terminal, os.O_RDWR)  # the session's controlling terminal now
        for std in (0, 1, 2):
            os.dup2(fd, std)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    env = {
        **os.environ, "ASYNCFLOW_HOME": str(store_root), "PYTHONPATH": str(REPO),
        "CRASH_GATE": str(gate), "ASYNCFLOW_DISPLAY": "plain",
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, CRASHABLE, "run"], env=env, cwd=tmp_path,
        preexec_fn=on_its_own_terminal,
    )  # fmt: skip
    os.close(slave)
    shown: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(master, shown), daemon=True)
    reader.start()
    try:
        with open(gate) as ready:
            assert ready.readline() == "ready\n"
        os.write(master, b"\x03")  # Ctrl-C
        assert proc.wait(timeout=120) == 130
    finally:
        proc.kill()
    reader.join(timeout=10)
    output = b"".join(shown).decode()
    assert "Run CrashFlow/1 was cancelled (Ctrl-C); `resume` continues it." in output
    assert "continues, its unfinished tasks" not in output
    assert Run("CrashFlow/1").status == "cancelled"


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:  # EIO: the terminal's last user closed it
            break
        if not data:
            break
        into.append(data)
    os.close(fd)


def test_the_engine_does_not_outlive_its_parent_killed_with_sigkill(
    store_root: Path, tmp_path: Path
) -> None:
    proc = _gated(store_root, tmp_path)
    try:
        proc.kill()
        proc.communicate(timeout=120)  # the pipes close once the engine's process is gone
    finally:
        proc.kill()
    run = Run("CrashFlow/1")  # killed with it, as the one process of old was
    assert run.status == "running" and run.crashed


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ((), (None, False)),
        (("Flow/3",), ("Flow/3", False)),  # it died before the run's end was recorded
        (("Flow/3", "ended"), ("Flow/3", True)),  # the parent need not read the store
        (("ended",), (None, False)),  # an end without a run proves nothing
    ],
)
def test_the_parent_reads_what_the_child_reported(
    reports: tuple[str, ...], expected: tuple[str | None, bool]
) -> None:
    from asyncflow import supervisor

    read_end, write_end = os.pipe()
    supervisor._child_report_fd[0] = write_end
    try:
        for line in reports:
            if line == "ended":
                supervisor.report_ended()
            else:
                supervisor.report_run(line)
    finally:
        if supervisor._child_report_fd[0] is not None:
            os.close(write_end)
        supervisor._child_report_fd[0] = None
    assert supervisor._reported(read_end) == expected
