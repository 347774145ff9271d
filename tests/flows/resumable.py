"""A flow with a foreach, a join and a large artifact, for the resume tests."""

from typing import Any

from asyncflow import FlowSpec, Parameter, current, step

#: What a test wants to go wrong: ``fail_items`` makes those foreach items raise.
signals: dict[str, Any] = {"fail_items": set(), "ran": []}


class ResumeFlow(FlowSpec):
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        signals["ran"].append("start")
        self.big = bytes(range(256)) * 1024  # 256 KiB: a blob file, not an inline value
        self.items = [0, 1, 2, 3]
        self.next(self.process, foreach="items")

    @step
    async def process(self):
        signals["ran"].append(f"process {self.input}")
        if self.input in signals["fail_items"]:
            raise ValueError(f"item {self.input} is bad")
        self.out = self.input * self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        signals["ran"].append("join")
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        signals["ran"].append("end")
        self.origin = current.origin_run_id
