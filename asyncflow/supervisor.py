"""The command line's supervising parent: the engine runs in a forked child, and a run
whose engine process died before the run ended (a step that segfaulted, was killed or
called ``os._exit``) is continued in place by a second child, its unfinished tasks each
in its own process.

The parent only waits: Ctrl-C and SIGTERM reach the child (the terminal sends Ctrl-C
to both, a ``kill`` of the parent is forwarded) and never lead to a continuation; the
child dies with the parent (``PR_SET_PDEATHSIG``, or a thread watching ``getppid()``):
a ``kill -9`` of the command still leaves the run crashed, as it did in one process.
Only where ``fork`` and ``sigwaitinfo`` exist (Linux, the BSDs); elsewhere, with
``$ASYNCFLOW_SUPERVISOR=off``, or off the main thread, the engine runs in the CLI's
own process as embedded engines always do.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

__all__ = [
    "ENV",
    "SUPERVISOR_PID_ENV",
    "Supervisor",
    "describe_signal",
    "owner_pid",
    "report_ended",
    "report_run",
    "supervised",
]

#: ``off`` runs the engine in the command's own process (no supervising parent).
ENV = "ASYNCFLOW_SUPERVISOR"
#: Set in the engine's child: the supervisor's pid (a simulated machine crash kills both).
SUPERVISOR_PID_ENV = "ASYNCFLOW_SUPERVISOR_PID"

_FORWARDED = (signal.SIGINT, signal.SIGTERM)
_WAITED = {*_FORWARDED, signal.SIGCHLD}


def supervised() -> bool:
    """Whether the command line's engine runs under a supervising parent here."""
    return (
        hasattr(os, "fork")
        and hasattr(signal, "sigwaitinfo")
        and os.environ.get(ENV, "").lower() not in ("off", "0", "no", "false")
        and threading.current_thread() is threading.main_thread()
    )


def owner_pid() -> int:
    """The pid a run records as its owner: the supervising parent's when there is one
    (it outlives a dead engine child, and is what a crash of the machine kills)."""
    supervisor = os.environ.get(SUPERVISOR_PID_ENV)
    if supervisor and supervisor.isdigit() and int(supervisor) == os.getppid():
        return int(supervisor)
    return os.getpid()


def describe_signal(number: int) -> str:
    """``signal 11 (SIGSEGV: segmentation fault)``."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    return f"signal {number} ({name}: {(signal.strsignal(number) or '').lower()})"


@dataclass
class Supervisor:
    """What the parent needs to know about the run its child drives.

    ``unfinished(pathspec)``: whether the run is still recorded as running;
    ``fail(pathspec, reason)``: record it failed; ``say(line)``: print one line.
    """

    unfinished: Callable[[str], bool]
    fail: Callable[[str, str], None]
    say: Callable[[str], None]

    def fork(self) -> str | None:
        """Return in a child: ``None`` to run the engine as asked, or the pathspec of
        the run to continue in place. The parent never returns: it exits as the run
        ends."""
        read_end, write_end = os.pipe()
        pid = self._spawn(read_end, write_end)
        if pid == 0:
            return None
        os.close(write_end)
        status, interrupted = self._wait(pid)
        pathspec, ended = _reported(read_end)
        # a Ctrl-C may have come as the child died: then it reached no child
        interrupted = interrupted or bool(signal.sigpending() & set(_FORWARDED))
        # An engine records how its run ended before it exits: a run still running
        # means a step ended the process (a signal, or os._exit). A child that said so
        # spares the parent reading the store (about 1.5% of a small run's CPU).
        if interrupted or pathspec is None or ended or not self.unfinished(pathspec):
            self._exit_like(status)
        self.say(
            f"The process running {pathspec} {_how(status)}; the run continues, "
            "its unfinished tasks each in its own process."
        )
        again = self._spawn(None, None)
        if again == 0:
            return pathspec
        status, interrupted = self._wait(again)
        if not interrupted and self.unfinished(pathspec):
            why = f"the engine continuing {pathspec} {_how(status)}"
            self.fail(pathspec, why)
            self.say(f"Run {pathspec} failed: {why}.")
            _leave(1)
        self._exit_like(status)

    def _spawn(self, read_end: int | None, write_end: int | None) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)  # none lost between fork and wait
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        # Objects made so far stay out of the child's collections, which would otherwise
        # write to (and so copy) every page of the parent's heap.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAITED)
            if read_end is not None:
                os.close(read_end)
            _die_with(parent)
            os.environ[SUPERVISOR_PID_ENV] = str(parent)
            _child_report_fd[0] = write_end
        return pid

    def _wait(self, pid: int) -> tuple[int, bool]:
        """Wait for the child, forwarding what is meant for it; its status, and whether
        it was interrupted (Ctrl-C, SIGTERM)."""
        interrupted = False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return status, interrupted
            info = signal.sigwaitinfo(_WAITED)
            if info.si_signo == signal.SIGCHLD:
                continue
            interrupted = True
            # The terminal's Ctrl-C (sent by the kernel, si_code > 0) reached the
            # child too, being in our process group; a kill of the parent did not.
            if info.si_signo == signal.SIGTERM or info.si_code <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, info.si_signo)

    def _exit_like(self, status: int) -> NoReturn:
        code = os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            self.say(f"The run's process was killed by {describe_signal(number)}.")
            code = 128 + number
        _leave(code)


def _how(status: int) -> str:
    """``was killed by signal 9 (SIGKILL: killed)``, ``exited with code 3``."""
    if os.WIFSIGNALED(status):
        return f"was killed by {describe_signal(os.WTERMSIG(status))}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _leave(code: int) -> NoReturn:
    """Exit the parent at once: the child tore down the interpreter they shared (its
    modules, threads, stores); doing it again here would cost a run ~50 ms of CPU."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


#: In the engine's child: where to report the run's pathspec once the run exists.
_child_report_fd: list[int | None] = [None]
#: The line a child writes once the store has recorded how its run ended.
_ENDED = "ended"


def report_run(pathspec: str) -> None:
    """Tell the supervising parent (if any) which run this process drives."""
    fd = _child_report_fd[0]
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, pathspec.encode() + b"\n")


def report_ended() -> None:
    """Tell the supervising parent (if any) that the store has recorded the run's end."""
    fd, _child_report_fd[0] = _child_report_fd[0], None
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, _ENDED.encode() + b"\n")
            os.close(fd)


def _reported(read_end: int) -> tuple[str | None, bool]:
    """The pathspec the child reported (if it did), and whether it reported the run ended."""
    # Non-blocking: a process the child left behind may still hold the pipe's other end.
    os.set_blocking(read_end, False)
    with os.fdopen(read_end, "rb") as pipe:
        lines = (pipe.read() or b"").decode("utf-8", "replace").split()
    ended = lines[-1:] == [_ENDED]
    runs = [line for line in lines if line != _ENDED]
    return (runs[-1] if runs else None), ended and bool(runs)


def _die_with(parent: int) -> None:
    """Kill this child when ``parent`` dies: a ``kill -9`` of the command ends the run as
    it ended it in one process (``Run.crashed``; ``resume`` continues it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the call
                os.kill(os.getpid(), signal.SIGKILL)
            return
    threading.Thread(target=_watch, args=(parent,), name="asyncflow-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGKILL)
