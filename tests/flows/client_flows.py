"""Flows read back by the client tests."""

from __future__ import annotations

from asyncflow import FlowSpec, step


class FanFlow(FlowSpec):
    """A foreach and its join, a value large enough for a blob file, and some output."""

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.big = b"x" * 200_000
        print("starting")
        self.next(self.each, foreach="items")

    @step
    async def each(self):
        self.item = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.joined = "".join(sorted(i.item for i in inputs))
        self.next(self.end)

    @step
    def end(self):
        self.answer = 42


class NamespaceProbeFlow(FlowSpec):
    """Records the client's namespace as a step sees it."""

    @step
    def start(self):
        from asyncflow import get_namespace

        self.seen = get_namespace()
        self.next(self.end)

    @step
    def end(self):
        pass


class SelfAwareFlow(FlowSpec):
    """Steps that look themselves up in the client while they run, and keep client
    objects as artifacts (Metaflow's ``current.task`` / ``current.run``)."""

    @step
    def start(self):
        from asyncflow import NotFoundError, Task, current

        me = Task(current.pathspec or "")
        self.seen = {
            "pathspec": me.pathspec,
            "finished": me.finished,
            "successful": me.successful,
            "artifacts": [a.id for a in me],
            "run": me.parent.parent.pathspec,
            "step": me.parent.id,
        }
        me.parent.parent.add_tag("tagged-while-running")
        try:
            Task(f"{current.flow_name}/{current.run_id}/end/99")
            self.other = "found"
        except NotFoundError:
            self.other = "not found"
        self.task_obj, self.run_obj = current.task, current.run
        self.next(self.end)

    @step
    def end(self):
        from asyncflow import current

        self.task_obj, run = current.task, current.run
        assert run is not None
        self.run_tags = sorted(run.user_tags)
