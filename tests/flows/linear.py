"""Small flows used by the engine tests."""

from __future__ import annotations

import anyio

from asyncflow import FlowSpec, current, step


class MixedFlow(FlowSpec):
    """Sync and async steps, a value read but not changed, and one mutated in place."""

    @step
    async def start(self):
        self.numbers = [1, 2, 3]
        self.config = {"scale": 2}
        self.untouched = "kept by reference"
        self.next(self.double)

    @step
    def double(self):
        self.numbers = [n * self.config["scale"] for n in self.numbers]
        self.thread_pathspec = current.pathspec
        self.next(self.grow)

    @step
    async def grow(self):
        await anyio.sleep(0)
        self.numbers.append(100)  # in place, never reassigned
        self.loop_pathspec = current.pathspec
        print("grew to", len(self.numbers))
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.numbers)


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.before = "committed"
        self.next(self.explode)

    @step
    def explode(self):
        self.partial = 1
        raise ValueError("the answer is not 42")
        self.next(self.end)

    @step
    def end(self):
        pass


class WrongNextFlow(FlowSpec):
    @step
    def start(self):
        if True:
            self.next(self.end)
            return
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class TransitionFlow(FlowSpec):
    """``mode`` picks how start calls self.next(); only "ok" matches its source."""

    mode = "ok"

    @step
    def start(self):
        self.items = [1, 2]
        mode = type(self).mode
        if mode == "twice":
            self.next(self.each, foreach="items")
        elif mode == "no-foreach":
            self.next(self.each)
            return
        elif mode == "other-var":
            self.next(self.each, foreach="others")
            return
        elif mode == "none":
            return
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
