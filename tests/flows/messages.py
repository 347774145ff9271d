"""Flows whose failures must point at the user's own code."""

from __future__ import annotations

import threading

from asyncflow import FlowSpec, step


class UnserializableFlow(FlowSpec):
    @step
    def start(self):
        self.fine = [1, 2, 3]
        self.lock = threading.Lock()  # L:lock
        self.next(self.end)

    @step
    def end(self):
        pass


class JoinReadsBranchFlow(FlowSpec):
    """The join reads ``wanted``: ``x`` set by branch a, or ``base`` both inherit."""

    wanted = "x"

    @step
    def start(self):
        self.base = 1
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = getattr(self, type(self).wanted)
        self.next(self.end)

    @step
    def end(self):
        pass


class JoinReadsForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.square = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = self.square
        self.next(self.end)

    @step
    def end(self):
        pass
