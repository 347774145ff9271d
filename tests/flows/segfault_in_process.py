"""A plain step (run in the flow's own process) that segfaults."""

import ctypes

from asyncflow import FlowSpec, step


class SegfaultFlow(FlowSpec):
    @step
    def start(self):
        self.before = "committed"
        self.next(self.crash)

    @step
    def crash(self):
        print("about to crash", flush=True)
        ctypes.string_at(0)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SegfaultFlow()
