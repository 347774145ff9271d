"""A nested foreach where any one step fails until resumed, for the resume tests."""

from typing import Any

from asyncflow import FlowSpec, current, step

#: ``fail_at``: the step that raises in a run that is no resume; ``ran``: tasks that ran.
signals: dict[str, Any] = {"fail_at": None, "ran": []}


def _body(flow: FlowSpec, name: str) -> None:
    """What every step does first: note it ran, say which run it is, fail if asked."""
    signals["ran"].append((name, tuple(i for i, _, _ in flow.foreach_stack())))
    flow.data = "resume" if current.origin_run_id else "run"
    if name == signals["fail_at"] and not current.origin_run_id:
        raise RuntimeError(f"{name} fails until resumed")


class NestedResumeFlow(FlowSpec):
    @step
    def start(self):
        _body(self, "start")
        self.xs = "ab"
        self.next(self.split_y, foreach="xs")

    @step
    def split_y(self):
        _body(self, "split_y")
        self.ys = "cde"
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        _body(self, "inner")
        self.var = ["".join(str(v) for _, _, v in self.foreach_stack())]
        self.next(self.join_y)

    @step
    def join_y(self, inputs):
        _body(self, "join_y")
        self.var = sorted(v for inp in inputs for v in inp.var)
        self.inner_data = sorted({inp.data for inp in inputs})
        self.next(self.join_x)

    @step
    def join_x(self, inputs):
        _body(self, "join_x")
        self.var = sorted(v for inp in inputs for v in inp.var)
        self.next(self.end)

    @step
    def end(self):
        _body(self, "end")
