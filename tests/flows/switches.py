"""Switches: ``self.next({...}, condition="var")`` alone, in a branch, in a foreach, looping."""

from __future__ import annotations

from asyncflow import FlowSpec, Parameter, step

#: Set by tests: the loop iteration of ``CountdownFlow`` that fails (None: none fails).
fail_at: dict[str, int | None] = {"count": None}


class RouteFlow(FlowSpec):
    """A switch on a Parameter's value; only the chosen case runs."""

    route = Parameter("route", default="fast")

    @step
    def start(self):
        self.mode = self.route
        self.next({"fast": self.fast, "slow": self.slow, "off": self.off}, condition="mode")

    @step
    def fast(self):
        self.taken = "fast"
        self.next(self.end)

    @step
    def slow(self):
        self.taken = "slow"
        self.next(self.end)

    @step
    def off(self):
        self.taken = "off"
        self.next(self.end)

    @step
    def end(self):
        self.final = self.taken


class BranchSwitchFlow(FlowSpec):
    """A switch on one branch of a static split: the join waits for one task per branch."""

    @step
    def start(self):
        self.pick = 2
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next({1: self.one, 2: self.two}, condition="pick")

    @step
    def one(self):
        self.seen = "one"
        self.next(self.join)

    @step
    def two(self):
        self.seen = "two"
        self.next(self.join)

    @step
    def right(self):
        self.seen = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all_seen = sorted(inp.seen for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class LoopInForeachFlow(FlowSpec):
    """A switch that loops on its own step, once per foreach item, until a count is met."""

    @step
    def start(self):
        self.targets = [3, 1, 2]
        self.next(self.each, foreach="targets")

    @step
    def each(self):
        self.target, self.count = self.input, 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.again = self.count < self.target
        self.next({True: self.loop, False: self.done}, condition="again")

    @step
    def done(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.counts = [inp.count for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class CountdownFlow(FlowSpec):
    """A loop of five turns that fails at turn ``fail_at["count"]`` (to resume it)."""

    @step
    def start(self):
        self.count = 0
        self.next(self.turn)

    @step
    def turn(self):
        self.count += 1
        if self.count == fail_at["count"]:
            raise RuntimeError(f"turn {self.count} fails")
        self.status = "more" if self.count < 5 else "stop"
        self.next({"more": self.turn, "stop": self.end}, condition="status")

    @step
    def end(self):
        self.final = self.count


class BadCaseFlow(FlowSpec):
    """A condition whose value is none of the cases."""

    @step
    def start(self):
        self.kind = "neither"
        self.next({"a": self.a, "b": self.b}, condition="kind")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
