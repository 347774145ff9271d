"""Mistakes Metaflow refuses at run time; a parameter picks which one this run makes."""

import sys

from asyncflow import FlowSpec, Parameter, step


class MistakesFlow(FlowSpec):
    """Branches that disagree on an artifact, and a join that trips on it."""

    mistake = Parameter("mistake", help="conflict, outside, assign or exit.", default="none")

    @step
    def start(self):
        if self.mistake == "outside":
            self.merge_artifacts([])
        if self.mistake == "assign":
            self.mistake = "changed"
        if self.mistake == "exit":
            sys.exit(3)  # Metaflow: the task's process exits, the task fails
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.agreed = 1
        self.next(self.join)

    @step
    def right(self):
        self.side = "right"
        self.agreed = 1
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.mistake != "conflict":
            self.side = "both"
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"side={self.side} agreed={self.agreed}")


if __name__ == "__main__":
    MistakesFlow()
