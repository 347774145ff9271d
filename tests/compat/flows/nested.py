"""Foreach in Metaflow's idiom: nested fan-outs, a branch inside one, merge_artifacts."""

from asyncflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Fan out over letters, then over sizes within each letter; then a branch per number."""

    @step
    def start(self):
        self.letters = ["x", "y"]
        self.shared = "same everywhere"
        self.next(self.per_letter, foreach="letters")

    @step
    def per_letter(self):
        self.letter = self.input
        self.sizes = [1, 2, 3]
        self.next(self.per_size, foreach="sizes")

    @step
    def per_size(self):
        self.cell = f"{self.letter}{self.input}"
        self.inner_index = self.index
        self.stack = self.foreach_stack()
        self.next(self.join_sizes)

    @step
    def join_sizes(self, inputs):
        self.cells = [inp.cell for inp in inputs]
        self.inner_indexes = [inp.inner_index for inp in inputs]
        self.stacks = [inp.stack for inp in inputs]
        self.join_view = (self.index, self.input, self.foreach_stack())  # the outer foreach's
        self.merge_artifacts(inputs, exclude=["cell", "inner_index", "stack"])
        self.next(self.join_letters)

    @step
    def join_letters(self, inputs):
        self.grid = [inp.cells for inp in inputs]
        self.letter_order = [inp.letter for inp in inputs]
        self.all_stacks = [inp.stacks for inp in inputs]
        self.join_views = [inp.join_view for inp in inputs]
        self.after_join_view = (self.index, self.input, self.foreach_stack())
        self.merge_artifacts(inputs, include=["shared"])
        self.next(self.numbers)

    @step
    def numbers(self):
        self.nums = [3, 5]
        self.next(self.split, foreach="nums")

    @step
    def split(self):
        self.n = self.input
        self.split_index = self.index
        self.next(self.double, self.square)

    @step
    def double(self):
        self.r = self.n * 2
        self.only_in_double = "d"
        self.branch_index = self.index
        self.branch_stack = self.foreach_stack()
        self.next(self.pair)

    @step
    def square(self):
        self.r = self.n**2
        self.next(self.pair)

    @step
    def pair(self, inputs):
        self.result = (inputs.double.r, inputs.square.r)
        self.merge_artifacts(inputs, exclude=["r"])
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.results = [inp.result for inp in inputs]
        self.merged_only = [inp.only_in_double for inp in inputs]
        self.branch_indexes = [inp.branch_index for inp in inputs]
        self.branch_stacks = [inp.branch_stack for inp in inputs]
        self.merge_artifacts(
            inputs, exclude=["n", "split_index", "result", "branch_index", "branch_stack"]
        )
        self.next(self.end)

    @step
    def end(self):
        print(f"grid={self.grid} results={self.results}")


if __name__ == "__main__":
    NestedForeachFlow()
