"""Foreach shapes: plain, nested, inside branches, branches inside, and failures."""

from __future__ import annotations

from typing import Any

from asyncflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        self.out = f"{self.index}:{self.input}"
        self.stack = self.foreach_stack()
        self.next(self.after)

    @step
    def after(self):
        # still inside the foreach: input, index and the stack carry over
        self.again = [self.index, self.input]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [inp.out for inp in inputs]
        self.stacks = [inp.stack for inp in inputs]
        self.agains = [inp.again for inp in inputs]
        self.join_index = self.index
        self.next(self.end)

    @step
    def end(self):
        self.end_input = self.input


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["x", "y"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.numbers = [1, 2, 3]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.cell = self.foreach_stack()
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.cells = [inp.cell for inp in inputs]
        self.outer_stack = self.foreach_stack()
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.grid = [inp.cells for inp in inputs]
        self.outer_stacks = [inp.outer_stack for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.plain)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.square, foreach="items")

    @step
    async def square(self):
        self.value = self.input**2
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.value = sum(inp.value for inp in inputs)
        self.next(self.join)

    @step
    def plain(self):
        self.value = 100
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [inputs.fan_join.value, inputs.plain.value]
        self.next(self.end)

    @step
    def end(self):
        pass


class BranchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [10, 20]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.base = self.input
        self.next(self.plus, self.times)

    @step
    def plus(self):
        self.r = self.base + 1
        self.next(self.both)

    @step
    async def times(self):
        self.r = self.base * 2
        self.next(self.both)

    @step
    def both(self, inputs):
        self.pair = [inputs.plus.r, inputs.times.r, self.input]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [inp.pair for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class BadForeachFlow(FlowSpec):
    """``_value`` is what start fans out over; ``unset`` leaves the artifact unset.
    Private, so no class constant: a generator could not be stored as one."""

    _value: Any = 5

    @step
    def start(self):
        if type(self)._value != "unset":
            self.things = type(self)._value
        self.next(self.each, foreach="things")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class IsolationFlow(FlowSpec):
    """Foreach tasks mutate what they inherit, in place; nobody else may see it."""

    @step
    def start(self):
        self.shared: dict[str, list[int | None]] = {"seen_by": []}
        self.items = [{"n": 1}, {"n": 2}, {"n": 3}]
        self.next(self.mutate, foreach="items")

    @step
    def mutate(self):
        self.shared["seen_by"].append(self.index)
        self.input["n"] *= 100
        self.items[0]["n"] = -1
        self.mine = {"shared": self.shared, "input": self.input, "first": self.items[0]}
        self.next(self.reread)

    @step
    def reread(self):
        # a later step of the same foreach gets the item as stored, not as mutated
        self.reread_input = [self.input, self.foreach_stack()[0][2]]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.mines = [inp.mine for inp in inputs]
        self.shareds = [inp.shared for inp in inputs]
        self.rereads = [inp.reread_input for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
