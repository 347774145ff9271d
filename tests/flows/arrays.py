"""Flows with NumPy arrays and data frames large enough to be memory-mapped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from asyncflow import FlowSpec, step

N = 300_000  # 2.4 MB of float64: above the memory-map threshold


class ArrayFlow(FlowSpec):
    @step
    def start(self):
        self.arr = np.arange(N, dtype=np.float64)
        self.frame = pd.DataFrame({"x": np.arange(N), "y": np.arange(N) * 0.5})
        self.shifts = [1.0, 2.0]
        self.next(self.bump, foreach="shifts")

    @step
    def bump(self):
        self.arr += self.input  # in place, on this task's private copy
        self.first = float(self.arr[0])
        self.next(self.join)

    @step
    def join(self, inputs):
        self.firsts = sorted(i.first for i in inputs)
        self.arr = inputs[0].arr
        self.frame = inputs[0].frame
        self.frame.loc[0, "y"] = -1.0  # a step's copy of a frame is editable in place
        self.rows_edited = len(self.frame)
        self.next(self.read_only)

    @step
    async def read_only(self):
        self.total = float(self.arr.sum())
        self.rows = len(self.frame)
        self.next(self.end)

    @step
    def end(self):
        pass
