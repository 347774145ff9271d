"""PipeFlow: its start step waits for $PIPE_FLOW_GO to exist, then every task prints."""

import os
import time

from asyncflow import FlowSpec, step


class PipeFlow(FlowSpec):
    @step
    def start(self):
        go = os.environ["PIPE_FLOW_GO"]
        while not os.path.exists(go):  # the test closes its end of the pipe first
            time.sleep(0.01)
        self.items = list(range(20))
        print("fanning out")
        self.next(self.each, foreach="items")

    @step
    def each(self):
        print("item", self.input, "x" * 200)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.input for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    PipeFlow()
