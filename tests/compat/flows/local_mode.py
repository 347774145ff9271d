"""Metaflow local-mode habits that Metaflow's own test suite relies on: constants and
parameters that refuse assignment, the private step attributes, Metaflow's exception
names, text streams with an encoding, and a parameter given by METAFLOW_RUN_<NAME>."""

import sys

from asyncflow import FlowSpec, Parameter, current, step
from asyncflow.exception import ExternalCommandFailed, MetaflowException
from asyncflow.metaflow_current import current as current_too


class LocalModeFlow(FlowSpec):
    LIMIT = 3
    greeting = Parameter("greeting", default="hello")

    @step
    def start(self):
        assert current_too is current
        self.refused = []
        for name, value in [("greeting", "bye"), ("LIMIT", 4)]:
            try:
                setattr(self, name, value)
            except AttributeError as exc:
                self.refused.append(f"{name}: {exc}")
        self.lineage = [self._current_step]
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        frame = self._foreach_stack[-1]
        self.where = (frame.step, frame.var, frame.index, frame.num_splits)
        self.lineage = [*self.lineage, self._current_step]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.wheres = sorted(i.where for i in inputs)
        self.lineage = [*inputs[0].lineage, self._current_step]
        self.next(self.end)

    @step
    def end(self):
        self.encodings = [sys.stdout.encoding, sys.stderr.encoding]
        sys.stdout.write(f"greeting={self.greeting} limit={self.LIMIT}\n")
        try:
            sys.stdout.write(b"bytes")  # type: ignore[arg-type]
        except TypeError as exc:
            self.bytes_refused = str(exc)
        self.names = [
            ExternalCommandFailed("x").headline,
            issubclass(ExternalCommandFailed, MetaflowException),
        ]


if __name__ == "__main__":
    LocalModeFlow()
