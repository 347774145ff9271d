"""``--executor processes[:N]``: each task in one of N spawned worker processes here.

Workers are spawned (never forked from the engine's threaded process), each runs
one task at a time, and a worker is kept for the next task. A task that kills
its worker (a segfault, ``os._exit``) fails with the exit status recorded, and
only that task: a new worker takes the next one. Its logs keep what it printed
before it died and, for a fatal signal, the Python traceback ``faulthandler``
wrote. Events travel back over the worker's pipe as they happen, so live output
looks as it does in-process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from typing import IO

import anyio
import cloudpickle

from ..events import Listener, TaskOutput
from ..exceptions import WorkerDiedError
from ..store.urls import StoreURLs
from .spec import AttemptOutcome, TaskSpec

__all__ = ["ProcessExecutor"]


class ProcessExecutor:
    """A pool of ``workers`` spawned processes (default: one per core), started on demand."""

    def __init__(self, workers: int | None = None) -> None:
        self.size = workers or os.cpu_count() or 1
        self.name = f"processes:{self.size}"
        self._idle: list[_Worker] = []
        self._started: list[_Worker] = []
        self._slots: anyio.CapacityLimiter | None = None
        self._threads: anyio.CapacityLimiter | None = None

    async def start(self) -> None:
        """Nothing to start yet: workers are spawned as tasks arrive."""
        self._slots = anyio.CapacityLimiter(self.size)
        self._threads = anyio.CapacityLimiter(self.size)  # the threads waiting on workers

    def check_store(self, urls: StoreURLs) -> None:
        """Any store will do: the workers share this machine's disk and network."""

    async def submit(self, spec: TaskSpec, on_event: Listener) -> AttemptOutcome:
        """Run the attempt on an idle worker (spawning one if none is idle)."""
        if self._slots is None:
            await self.start()
        assert self._slots is not None and self._threads is not None
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._spawn()
            try:
                outcome = await anyio.to_thread.run_sync(
                    worker.exchange, spec, on_event, abandon_on_cancel=True, limiter=self._threads
                )
            except BaseException:  # cancelled (a timeout, a failed sibling): stop it now
                worker.kill()
                raise
            if worker.alive:
                self._idle.append(worker)
            return outcome

    async def _spawn(self) -> _Worker:
        worker = await anyio.to_thread.run_sync(_Worker.spawn)
        self._started.append(worker)
        return worker

    async def aclose(self) -> None:
        """Ask every worker to exit, and kill those that do not."""
        workers, self._started, self._idle = self._started, [], []
        with anyio.CancelScope(shield=True):
            for worker in workers:
                await anyio.to_thread.run_sync(worker.stop)


class _Worker:
    """One spawned interpreter and the socket to it."""

    def __init__(
        self, process: subprocess.Popen[bytes], conn: Connection, faults: IO[bytes]
    ) -> None:
        self.process, self.conn, self.faults = process, conn, faults
        self.alive = True

    @classmethod
    def spawn(cls) -> _Worker:
        # A fresh interpreter (not multiprocessing's spawn, which re-imports __main__:
        # the flow script itself, or a notebook kernel's).
        ours, theirs = socket.socketpair()
        faults = tempfile.TemporaryFile()  # noqa: SIM115  (the worker's life; closed by stop/kill)
        fds = [theirs.fileno(), faults.fileno()]
        process = subprocess.Popen(
            [sys.executable, "-m", "asyncflow.executors.process_worker", *map(str, fds)],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        return cls(process, Connection(ours.detach()), faults)

    def exchange(self, spec: TaskSpec, on_event: Listener) -> AttemptOutcome:
        """Send the spec, relay its events, and return its outcome (blocking)."""
        lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        try:
            self.conn.send_bytes(cloudpickle.dumps(spec))
            while True:
                kind, payload = cloudpickle.loads(self.conn.recv_bytes())
                if kind == "done":
                    return payload  # type: ignore[no-any-return]
                if isinstance(payload, TaskOutput):
                    lines[payload.stream].append(payload.line + "\n")
                on_event(payload)
        except (EOFError, OSError):
            return self._died(spec, lines)

    def _died(self, spec: TaskSpec, lines: dict[str, list[str]]) -> AttemptOutcome:
        self.alive = False
        try:
            code: int | None = self.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        exc = WorkerDiedError(spec.pathspec, _how(code))
        formatted = f"{type(exc).__name__}: {exc}\n"
        stderr = "".join(lines["stderr"]) + self._fault_report() + formatted
        logs = {"stdout": "".join(lines["stdout"]), "stderr": stderr}
        return AttemptOutcome.failed(exc, formatted, logs, [])

    def _fault_report(self) -> str:
        """What faulthandler wrote as the worker died of a fatal signal ('' if nothing)."""
        self.faults.seek(0)
        return self.faults.read().decode("utf-8", "replace")

    def kill(self) -> None:
        self.alive = False
        self.process.kill()
        self.conn.close()
        self.process.wait()
        self.faults.close()

    def stop(self) -> None:
        if self.alive:
            with contextlib.suppress(OSError):
                self.conn.send_bytes(b"")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.conn.close()
        self.faults.close()


def _how(exitcode: int | None) -> str:
    """How a worker ended, for the task's error: ``was killed by signal 11 (SIGSEGV:
    segmentation fault)``."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        described = (signal.strsignal(number) or "").lower()
        return f"was killed by signal {number} ({name}: {described})"
    return f"exited with code {exitcode} before the task finished"
