"""Flows read back by the client tests."""

from __future__ import annotations

from asyncflow import FlowSpec, step


class FanFlow(FlowSpec):
    """A foreach and its join, a value large enough for a blob file, and some output."""

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.big = b"x" * 200_000
        print("starting")
        self.next(self.each, foreach="items")

    @step
    async def each(self):
        self.item = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.joined = "".join(sorted(i.item for i in inputs))
        self.next(self.end)

    @step
    def end(self):
        self.answer = 42


class NamespaceProbeFlow(FlowSpec):
    """Records the client's namespace as a step sees it."""

    @step
    def start(self):
        from asyncflow import get_namespace

        self.seen = get_namespace()
        self.next(self.end)

    @step
    def end(self):
        pass
