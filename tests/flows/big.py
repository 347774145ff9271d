"""A flow that persists a 300 MB array, for the loop-responsiveness test."""

from __future__ import annotations

import numpy as np

from asyncflow import FlowSpec, step

SIZE = 300 * 1024 * 1024


class BigArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.big = np.full(SIZE, 7, dtype=np.uint8)
        self.next(self.inspect)

    @step
    async def inspect(self):
        self.first = int(self.big[0])  # an async step reading it: prefetched off the loop
        self.next(self.end)

    @step
    def end(self):
        pass
