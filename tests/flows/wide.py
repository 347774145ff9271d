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


class WideMergeFlow(FlowSpec):
    """A foreach whose join merges what its inputs agree on (``exclude``: what it leaves)."""

    n = Parameter("n", default=25)
    exclude = Parameter("exclude", default="out")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.common = "the same everywhere"
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, exclude=[n for n in self.exclude.split(",") if n])
        self.next(self.end)

    @step
    def end(self):
        pass
