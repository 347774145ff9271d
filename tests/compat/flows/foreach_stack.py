# mypy: disable-error-code="assignment"
"""Nested foreach steps that read ``self._foreach_stack`` and ``self._current_step`` the
way Metaflow's own core tests do (ResumeForeachInner, Lineage)."""

from asyncflow import FlowSpec, step


class ForeachStackFlow(FlowSpec):
    @step
    def start(self):
        self.lineage = (self._current_step,)
        self.outer_stack = list(self._foreach_stack)
        self.xs = ["a", "b"]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.lineage += (self._current_step,)
        self.ys = [1, 2, 3]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.lineage += (self._current_step,)
        self.frames = [tuple(frame) for frame in self._foreach_stack]
        self.fields = [(f.step, f.var, f.num_splits, f.index, f.value) for f in self._foreach_stack]
        step_name, var, num_splits, index, value = self._foreach_stack[-1]
        self.unpacked = (step_name, var, num_splits, index, value, self._foreach_stack[-1][2])
        self.stack = [list(map(str, getattr(self, f.var))) for f in self._foreach_stack]
        self.var = "".join(str(x[2]) for x in self.foreach_stack())
        self.shown = repr(self._foreach_stack[0])
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.lineage = (*inputs[0].lineage, self._current_step)
        self.vars = sorted(i.var for i in inputs)
        self.depth = len(self._foreach_stack)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.lineage = (*inputs[0].lineage, self._current_step)
        self.vars = sorted(v for i in inputs for v in i.vars)
        self.depth = len(self._foreach_stack)
        self.next(self.end)

    @step
    def end(self):
        self.lineage += (self._current_step,)


if __name__ == "__main__":
    ForeachStackFlow()
