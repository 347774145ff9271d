"""A flow with one parameter of each kind; run as a script in the CLI tests."""

from __future__ import annotations

from asyncflow import FlowSpec, IncludeFile, JSONType, Parameter, current, step


def default_label(ctx):
    return f"{ctx.flow_name}-{ctx.parameter_name}"


class ParamFlow(FlowSpec):
    """Parameters of every type."""

    alpha = Parameter("alpha", default=0.5, help="Learning rate.")
    count = Parameter("count", default=3, type=int)
    name_ = Parameter("user-name", default="ada", help="Who runs it.")
    verbose = Parameter("verbose", default=False, type=bool)
    config = Parameter("config", type=JSONType, default='{"depth": 2}')
    tags_ = Parameter("labels", default="a,b", separator=",")
    label = Parameter("label", default=default_label)
    notes = IncludeFile("notes", help="A text file.")
    blob = IncludeFile("blob", is_text=False)

    @step
    def start(self):
        self.seen = {
            "alpha": self.alpha,
            "count": self.count,
            "name_": self.name_,
            "verbose": self.verbose,
            "config": self.config,
            "tags_": self.tags_,
            "label": self.label,
            "notes": self.notes,
            "blob": self.blob,
        }
        self.next(self.middle)

    @step
    async def middle(self):
        self.product = self.alpha * self.count
        self.next(self.end)

    @step
    def end(self):
        print(f"{current.step_name}: alpha={self.alpha} count={self.count}")


class RequiredParamFlow(FlowSpec):
    size = Parameter("size", type=int, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class AssignParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.alpha = 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    import sys

    {"ParamFlow": ParamFlow, "RequiredParamFlow": RequiredParamFlow}[sys.argv.pop(1)]()
