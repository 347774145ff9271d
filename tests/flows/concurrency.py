"""Flows that observe their own concurrency through a probe the test installs.

Ordering is made with events and barriers only: a task that waits for its
siblings proves they run at the same time.
"""

from __future__ import annotations

import threading

import anyio

from asyncflow import FlowSpec, current, step


class Probe:
    """Counts tasks inside the measured section; ``gate`` opens once ``target`` are in."""

    def __init__(self, target: int, items: int | None = None) -> None:
        self.target = target
        self.items = items or target
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.thread_gate = threading.Event()
        self.loop_gate: anyio.Event | None = None

    def enter(self) -> bool:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            reached = self.active >= self.target
        if reached:
            self.thread_gate.set()
        return reached

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


PROBE = Probe(1)


def snapshot() -> dict[str, object]:
    return {
        "flow_name": current.flow_name,
        "run_id": current.run_id,
        "step_name": current.step_name,
        "task_id": current.task_id,
        "pathspec": current.pathspec,
        "retry_count": current.retry_count,
        "origin_run_id": current.origin_run_id,
        "namespace": current.namespace,
        "username": current.username,
        "tags": sorted(current.tags),
        "is_running_flow": current.is_running_flow,
    }


class AsyncCurrentFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(PROBE.items))
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        before = snapshot()
        if PROBE.loop_gate is None:
            PROBE.loop_gate = anyio.Event()
        if PROBE.enter():
            PROBE.loop_gate.set()
        await PROBE.loop_gate.wait()  # every sibling is running now
        self.before, self.after = before, snapshot()
        PROBE.leave()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = [[inp.before, inp.after] for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class ThreadCurrentFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(PROBE.items))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        before = snapshot()
        PROBE.enter()
        PROBE.thread_gate.wait(timeout=60)  # a safety net: the gate opens when all are in
        self.before, self.after = before, snapshot()
        PROBE.leave()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = [[inp.before, inp.after] for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
