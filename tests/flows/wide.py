"""A wide foreach of trivial tasks, watching how many asyncio tasks exist while it runs."""

from __future__ import annotations

import asyncio

import sniffio

from asyncflow import FlowSpec, Parameter, step

#: The most asyncio tasks alive at once, as seen from inside the foreach's tasks.
PEAK_TASKS: list[int] = [0]


class WideFlow(FlowSpec):
    n = Parameter("n", default=600)
    size = Parameter("size", default=1, help="length of the string each task stores")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        if sniffio.current_async_library() == "asyncio":
            PEAK_TASKS[0] = max(PEAK_TASKS[0], len(asyncio.all_tasks()))
        self.out = self.input
        self.label = "x" * self.size
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
