"""A foreach over any iterable, as Metaflow allows: a range, a dict, an array, tuples."""

import numpy as np

from asyncflow import FlowSpec, step


class ForeachIterablesFlow(FlowSpec):
    """Nested fan-outs over a range, a dict's keys and a NumPy array; then over pairs."""

    @step
    def start(self):
        self.outside = (self.input, self.index, self.foreach_stack())
        self.a_range = range(3)
        self.next(self.each, foreach="a_range")

    @step
    def each(self):
        self.got = self.input
        self.pairs = {"k1": 1, "k2": 2}
        self.next(self.each2, foreach="pairs")

    @step
    def each2(self):
        self.got2 = self.input
        self.arr = np.array([1.5, 2.5])
        self.next(self.each3, foreach="arr")

    @step
    def each3(self):
        self.got3 = self.input
        self.next(self.j3)

    @step
    def j3(self, inputs):
        self.got3s = [float(i.got3) for i in inputs]
        self.merge_artifacts(inputs, include=["got2", "got"])
        self.next(self.j2)

    @step
    def j2(self, inputs):
        self.got2s = [i.got2 for i in inputs]
        self.merge_artifacts(inputs, include=["got"])
        self.next(self.j1)

    @step
    def j1(self, inputs):
        self.gots = [i.got for i in inputs]
        self.next(self.mid)

    @step
    def mid(self):
        self.tuples = [(1, "a"), (2, "b")]
        self.next(self.t, foreach="tuples")

    @step
    def t(self):
        num, letter = self.input
        self.s = f"{num}{letter}"
        self.next(self.tj)

    @step
    def tj(self, inputs):
        self.ss = [i.s for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.ss)
        self.all = self.ss


if __name__ == "__main__":
    ForeachIterablesFlow()
