"""Flows that break one graph rule each; ``# L:<tag>`` marks the line a finding names."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

from asyncflow import FlowSpec, catch, step


class ReservedNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.input)

    @step
    def input(self):  # L:reserved
        self.next(self.end)

    @step
    def end(self):
        pass


class BadNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.Upper)

    @step
    def Upper(self):  # L:badname
        self.next(self.end)

    @step
    def end(self):
        pass


class NoStartFlow(FlowSpec):
    @step
    def begin(self):  # L:nostart-orphan
        self.next(self.end)

    @step
    def end(self):
        pass


class EndHasNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # L:end-next


class MissingNextFlow(FlowSpec):
    @step
    def start(self):  # L:missing
        self.x = 1

    @step
    def end(self):
        pass


class MisplacedNextFlow(FlowSpec):
    @step
    def start(self):
        if self.flag():
            self.next(self.end)  # L:misplaced
        print("after")

    def flag(self):
        return True

    @step
    def end(self):
        pass


class BadNextArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next("end")  # L:badargs

    @step
    def end(self):
        pass


class ForeachTwoTargetsFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.a, self.b, foreach="items")  # L:foreach-two

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class UnknownStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.nowhere)  # L:unknown

    @step
    def end(self):
        pass


class CycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a, self.end)  # L:cycle

    @step
    def end(self):
        pass


class OrphanFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def lonely(self):  # L:orphan
        self.next(self.end)

    @step
    def end(self):
        pass


class UnjoinedSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):  # L:unjoined
        pass


class JoinWithoutSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):  # L:nosplit
        self.next(self.end)

    @step
    def end(self):
        pass


class JoinMissesBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.end)

    @step
    def join(self, inputs):  # L:misses
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.join, foreach="items")  # L:foreach-join

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SignatureFlow(FlowSpec):
    @step
    def start(self, extra):  # L:split-join
        self.next(self.a, self.b)

    @step
    def a(self, x, y):  # L:too-many
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):  # L:end-join
        pass


class JoinWithoutInputsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self):  # L:no-inputs
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachJoinWithoutInputsFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self):
        self.next(self.end)

    @step
    def end(self):  # L:foreach-no-inputs
        pass


class MissingStepDecoratorFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)  # L:no-decorator

    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class EndWithoutStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)  # L:end-no-decorator

    def end(self):
        pass


KEY = "a"


class SwitchKeyNotLiteralFlow(FlowSpec):
    @step
    def start(self):
        self.kind = "a"
        self.next({KEY: self.a, "b": self.end}, condition="kind")  # L:switch-key

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchWithoutConditionFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.a, "b": self.end})  # L:switch-nocond

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.kind = "x"
        self.next({"x": self.join, "y": self.c}, condition="kind")  # L:switch-join

    @step
    def c(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchLongLoopFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.again = True
        self.next({True: self.a, False: self.end}, condition="again")  # L:switch-loop

    @step
    def end(self):
        pass


class CatchOnSwitchFlow(FlowSpec):
    @catch(var="oops")
    @step
    def start(self):  # L:switch-catch
        self.kind = "a"
        self.next({"a": self.a, "b": self.end}, condition="kind")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
