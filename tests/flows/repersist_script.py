"""A step that only reads an array whose blob was damaged after it was stored."""

import numpy as np

from asyncflow import FlowSpec, Task, current, step
from asyncflow.store import Datastore


class RepersistFlow(FlowSpec):
    @step
    def start(self):
        self.arr = np.arange(300_000, dtype=np.float64)  # memory-mapped on read
        self.next(self.damage)

    @step
    def damage(self):
        # Bit rot between two steps: flip one byte of start's blob, without reading arr.
        start = Task(f"{current.flow_name}/{current.run_id}/start/1")
        path = Datastore().local_blobs.path(start["arr"].sha)
        with open(path, "r+b") as f:
            f.seek(1_000_000)
            byte = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([byte[0] ^ 0xFF]))
        self.next(self.read)

    @step
    def read(self):
        self.total = float(self.arr.sum())  # reads arr, never assigns it
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RepersistFlow()
