"""Static branches and joins, and merge_artifacts in its forms."""

from __future__ import annotations

from asyncflow import FlowSpec, step


class BranchFlow(FlowSpec):
    """Two branches, joined by name, by index and by iteration."""

    @step
    def start(self):
        self.x = 1
        self.common = "same everywhere"
        self.next(self.a, self.b)

    @step
    async def a(self):
        self.x = 2
        self.only_in_a = "a"
        self.next(self.join)

    @step
    def b(self):
        self.x = 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.inherited_before_merge = hasattr(self, "common")
        self.by_name = [inputs.a.x, inputs.b.x]
        self.by_index = [inputs[0].x, inputs[1].x]
        self.by_iteration = sorted(inp.x for inp in inputs)
        self.input_count = len(inputs)
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        self.seen_at_end = [self.common, self.only_in_a, hasattr(self, "x")]


class MergeConflictFlow(FlowSpec):
    """Branches disagree on `x` and `y`; the join resolves only `y`."""

    @step
    def start(self):
        self.x, self.y, self.z = 0, 0, 0
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x, self.y, self.w = 1, 1, "from a"
        self.next(self.join)

    @step
    def b(self):
        self.x, self.y, self.w = 2, 2, "from b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.y = max(inp.y for inp in inputs)
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class MergeIncludeFlow(FlowSpec):
    """``include=`` merges only what it names, even when other artifacts differ."""

    @step
    def start(self):
        self.shared = {"k": [1, 2]}
        self.next(self.a, self.b)

    @step
    def a(self):
        self.differs = "a"
        self.next(self.join)

    @step
    def b(self):
        self.differs = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, include=["shared"])
        self.has_differs = hasattr(self, "differs")
        self.next(self.end)

    @step
    def end(self):
        pass


class MergeMisuseFlow(FlowSpec):
    """``mode`` picks a misuse of merge_artifacts; each fails the join or start."""

    mode = "both"

    @step
    def start(self):
        if type(self).mode == "not-a-join":
            self.merge_artifacts([])
        self.next(self.a, self.b)

    @step
    def a(self):
        self.v = 1
        self.next(self.join)

    @step
    def b(self):
        self.v = 1
        self.next(self.join)

    @step
    def join(self, inputs):
        if type(self).mode == "both":
            self.merge_artifacts(inputs, include=["v"], exclude=["w"])
        else:
            self.merge_artifacts(inputs, include=["v", "nowhere", "nothing"])
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedBranchFlow(FlowSpec):
    """A split inside a branch; artifacts travel through both joins."""

    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.left, self.right)

    @step
    def left(self):
        self.trail = [*self.trail, "left"]
        self.next(self.l1, self.l2)

    @step
    def l1(self):
        self.trail = [*self.trail, "l1"]
        self.next(self.inner_join)

    @step
    def l2(self):
        self.trail = [*self.trail, "l2"]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.trail = [t for inp in inputs for t in inp.trail]
        self.next(self.outer_join)

    @step
    def right(self):
        self.trail = [*self.trail, "right"]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.trails = [inp.trail for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
