"""Flow scripts whose steps kill the flow's own process (run as real subprocesses).

``SUICIDE`` picks the flow: ``linear`` (a @retry/@catch step SIGKILLs itself on every
attempt), ``raise-then-die`` (the same, but attempt 0 raises), ``foreach`` (every inner
task dies), ``one`` (one inner task dies while the others wait for it, in flight as the
process dies), ``parallel`` (every node of a gang), ``resume`` (see ResumeDieFlow),
``segfault`` (``end`` segfaults after printing), ``catch-first`` (``start`` kills itself,
@catch and no retry), ``exit`` (``start`` calls ``os._exit(3)``),
``gang-meets`` (see GangMeetsFlow).
"""

import ctypes
import os
import signal
import time
from pathlib import Path

from asyncflow import FlowSpec, catch, current, parallel, retry, step


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.before = os.getpid()
        self.next(self.die)

    @retry(times=2)
    @catch(var="ex", print_exception=False)
    @step
    def die(self):
        print(f"dying in attempt {current.retry_count}")
        die()
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.ex.type


class RaiseThenDieFlow(FlowSpec):
    """Attempt 0 raises (recorded in the flow's process), the next ones kill it."""

    @step
    def start(self):
        self.next(self.die)

    @retry(times=2)
    @catch(var="ex", print_exception=False)
    @step
    def die(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise ValueError("not yet")
        die()
        self.next(self.end)

    @step
    def end(self):
        pass


class ResumeDieFlow(FlowSpec):
    """``PHASE=fail``: ``work`` raises in both attempts; ``PHASE=die``: its attempt 0 kills
    the process (the resumed run's), attempt 1 succeeds."""

    @step
    def start(self):
        self.pid = os.getpid()
        self.next(self.work)

    @retry(times=1)
    @step
    def work(self):
        if os.environ["PHASE"] == "fail":
            raise RuntimeError("failing for resume")
        if current.retry_count == 0:
            die()
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.inner, foreach="items")

    @retry(times=1)
    @catch(var="ex", print_exception=False)
    @step
    def inner(self):
        die()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.types = [i.ex.type for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class OneFlow(FlowSpec):
    """Item 0 kills the process once the others are running; they wait for that."""

    @step
    def start(self):
        self.items, self.first_pid = [0, 1, 2], os.getpid()
        self.next(self.inner, foreach="items")

    @catch(var="ex", print_exception=False)
    @step
    def inner(self):
        self.pid, self.retry = os.getpid(), current.retry_count
        gate = Path(os.environ["SUICIDE_DIR"])
        (gate / f"running-{self.input}").touch()
        if self.input == 0:
            while len(list(gate.glob("running-*"))) < 3:
                time.sleep(0.01)
            (gate / "died").touch()
            die()
        while not (gate / "died").exists():
            time.sleep(0.01)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.retries = [i.retry if hasattr(i, "retry") else None for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class GangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.node, num_parallel=3)

    @retry(times=1)
    @catch(var="ex", print_exception=False)
    @parallel
    @step
    def node(self):
        die()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class ExitFlow(FlowSpec):
    @catch(var="ex", print_exception=False)
    @step
    def start(self):
        os._exit(3)
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.ex.type


class GangMeetsFlow(FlowSpec):
    """``die`` kills the process; then a gang whose 3 nodes wait for each other runs in
    the continued run's workers (more nodes than this machine may have cores)."""

    @step
    def start(self):
        self.next(self.die)

    @catch(var="ex", print_exception=False)
    @step
    def die(self):
        die()
        self.next(self.split)

    @step
    def split(self):
        self.next(self.node, num_parallel=3)

    @parallel
    @step
    def node(self):
        gate = Path(os.environ["SUICIDE_DIR"])
        (gate / f"node-{current.parallel.node_index}").touch()
        deadline = time.monotonic() + 60  # fail, rather than hang, if they never meet
        while len(list(gate.glob("node-*"))) < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("the gang's nodes never ran at once")
            time.sleep(0.01)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SegfaultEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("Crash and burn!")
        ctypes.string_at(0)


class CatchFirstFlow(FlowSpec):
    @catch(var="ex", print_exception=False)
    @step
    def start(self):
        die()
        self.next(self.end)

    @step
    def end(self):
        pass


FLOWS = {
    "linear": LinearFlow,
    "foreach": ForeachFlow,
    "resume": ResumeDieFlow,
    "raise-then-die": RaiseThenDieFlow,
    "one": OneFlow,
    "parallel": GangFlow,
    "gang-meets": GangMeetsFlow,
    "segfault": SegfaultEndFlow,
    "exit": ExitFlow,
    "catch-first": CatchFirstFlow,
}

if __name__ == "__main__":
    FLOWS[os.environ["SUICIDE"]]()
