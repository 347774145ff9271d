"""Flows for ``benchmarks/executors.py``: a foreach of CPU-bound or trivial plain steps."""

from __future__ import annotations

import time
from typing import Any

from asyncflow import FlowSpec, Parameter, step


def burn(seconds: float) -> int:
    """Spin the CPU, holding the GIL, for ``seconds`` of this thread's CPU time."""
    end, n = time.thread_time() + seconds, 0
    while time.thread_time() < end:
        n += 1
    return n


class CpuForeachFlow(FlowSpec):
    """``tasks`` plain tasks of ``seconds`` CPU each."""

    tasks = Parameter("tasks", default=16)
    seconds = Parameter("seconds", default=0.25)

    @step
    def start(self) -> None:
        self.items = list(range(self.tasks))
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


class TrivialForeachFlow(FlowSpec):
    """``tasks`` plain tasks that do nothing but return their item."""

    tasks = Parameter("tasks", default=100)

    @step
    def start(self) -> None:
        self.items = list(range(self.tasks))
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.x = self.input
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.count = len(inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def trivial(x: int) -> int:
    """What bare Dask runs per task, beside the trivial foreach."""
    return x
