"""A flow that fails lint twice: a step with no self.next() and a step with extra arguments."""

from asyncflow import FlowSpec, step


class BrokenFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, a, b):
        self.next(self.end)

    @step
    def dangling(self):
        self.x = 1

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BrokenFlow()
