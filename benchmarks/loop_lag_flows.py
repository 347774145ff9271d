"""Flows for ``benchmarks/loop_lag.py``: a large value persisted and read back by an async
step, and a flow of small tasks sharing the loop with it."""

from __future__ import annotations

from typing import Any

from asyncflow import FlowSpec, step

#: The value of the round (built before its clock starts: making it is not the engine's).
PAYLOAD: dict[str, Any] = {}


class LargeValueFlow(FlowSpec):
    """Stores ``PAYLOAD["value"]``; an async step reads it back (loaded off the loop)."""

    @step
    def start(self) -> None:
        self.big = PAYLOAD["value"]
        self.next(self.inspect)

    @step
    async def inspect(self) -> None:
        self.length = len(self.big)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class SmallTasksFlow(FlowSpec):
    """The other run on the loop: a foreach of 20 small async tasks."""

    @step
    def start(self) -> None:
        self.items = list(range(20))
        self.next(self.each, foreach="items")

    @step
    async def each(self) -> None:
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass
