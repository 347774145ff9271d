"""Flows run on executors (worker processes, Dask): where tasks ran, crashes, output."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from asyncflow import FlowSpec, Parameter, catch, current, isolated, retry, step, timeout


def burn(seconds: float) -> int:
    """Spin the CPU (holding the GIL) for about ``seconds``."""
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


class WhereFlow(FlowSpec):
    """A foreach whose tasks report the process they ran in and print a line."""

    @step
    def start(self) -> None:
        self.items = ["a", "b", "c", "d"]
        self.engine_pid = os.getpid()
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.pid = os.getpid()
        self.out = f"{self.index}:{self.input}"
        print(f"working on {self.input}")
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.outs = [i.out for i in inputs]
        self.pids = sorted({i.pid for i in inputs})
        self.merge_artifacts(inputs, include=["engine_pid"])
        self.next(self.end)

    @step
    async def end(self) -> None:
        self.end_pid = os.getpid()


class IsolatedFlow(FlowSpec):
    """Only ``heavy`` runs in a worker process."""

    @step
    def start(self) -> None:
        self.start_pid = os.getpid()
        self.next(self.heavy)

    @isolated
    @step
    def heavy(self) -> None:
        self.heavy_pid = os.getpid()
        self.next(self.end)

    @step
    def end(self) -> None:
        self.end_pid = os.getpid()


class CrashFlow(FlowSpec):
    """Task 1 of the foreach crashes its process (``how``: segfault or exit); @catch keeps
    the run going when ``caught``."""

    @step
    def start(self) -> None:
        self.items = [0, 1, 2]
        self.next(self.crash, foreach="items")

    @isolated
    @catch(var="failure")
    @step
    def crash(self) -> None:
        self.value = self.input * 10
        if self.input == 1:
            print("Crash and burn!", flush=True)
            if os.environ.get("CRASH_HOW") == "exit":
                os._exit(3)
            ctypes.string_at(0)
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.values = [getattr(i, "value", None) for i in inputs]
        self.failures = [str(i.failure) if i.failure else None for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class UncaughtCrashFlow(FlowSpec):
    """The end step segfaults (Metaflow's DetectSegFault case)."""

    @step
    def start(self) -> None:
        self.next(self.end)

    @isolated
    @step
    def end(self) -> None:
        print("Crash and burn!", flush=True)
        ctypes.string_at(0)


class SlowFlow(FlowSpec):
    """A plain step that runs past its @timeout (a worker thread could not be stopped)."""

    @step
    def start(self) -> None:
        self.next(self.slow)

    @isolated
    @timeout(seconds=1)
    @step
    def slow(self) -> None:
        burn(60)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class FlakyFlow(FlowSpec):
    """Fails on its first attempt, succeeds on the second."""

    @step
    def start(self) -> None:
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self) -> None:
        self.attempts_seen = current.retry_count
        if current.retry_count == 0:
            raise ValueError("first attempt fails")
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class RaisingFlow(FlowSpec):
    """A step whose code raises on the worker."""

    @step
    def start(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        helper_that_raises()


def helper_that_raises() -> None:
    raise KeyError("no such thing on the worker")


class CpuFlow(FlowSpec):
    """A foreach of CPU-bound plain steps."""

    seconds = 0.5

    @step
    def start(self) -> None:
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.n = burn(self.seconds)
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.total = sum(i.n for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class TimeoutFlow(FlowSpec):
    """An async step past its @timeout, caught: the run goes on."""

    @step
    def start(self) -> None:
        self.next(self.slow)

    @catch(var="timed_out")
    @timeout(seconds=1)
    @step
    async def slow(self) -> None:
        import anyio

        await anyio.sleep(60)
        self.next(self.end)

    @step
    def end(self) -> None:
        self.summary = f"caught {self.timed_out.type}"


class ResumableFlow(FlowSpec):
    """Item 2 of the foreach fails while the file ``marker`` exists."""

    marker = Parameter("marker", default="")

    @step
    def start(self) -> None:
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        if self.input == 2 and os.path.exists(self.marker):
            raise RuntimeError("item 2 is not ready")
        self.square = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.squares = sorted(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class ReaderFlow(FlowSpec):
    """Reads another flow's latest successful run through the client, on the worker."""

    @step
    def start(self) -> None:
        from asyncflow import Flow

        run = Flow("WhereFlow").latest_successful_run
        assert run is not None
        self.source = run.pathspec
        self.outs = run["join"].task.data.outs  # type: ignore[union-attr]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class KillableFlow(FlowSpec):
    """Attempt 0 writes its pid to ``pid_file`` and waits to be killed; attempt 1 is quick."""

    pid_file = Parameter("pid_file", default="")

    @step
    def start(self) -> None:
        self.next(self.victim)

    @retry(times=1, minutes_between_retries=0)
    @step
    def victim(self) -> None:
        self.attempt = current.retry_count
        if current.retry_count == 0:
            print("waiting to be killed", flush=True)
            with open(self.pid_file + ".tmp", "w") as out:
                out.write(str(os.getpid()))
            os.rename(self.pid_file + ".tmp", self.pid_file)
            time.sleep(120)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass
