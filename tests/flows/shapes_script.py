"""A flow with a branch and a foreach, for show / check / output-dot / output-mermaid."""

from asyncflow import FlowSpec, step


class ShapesFlow(FlowSpec):
    """Branches, then a foreach."""

    @step
    def start(self):
        """Split in two."""
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.fan)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ShapesFlow()
