"""A join that misuses merge_artifacts the ways Metaflow's MergeArtifacts tests do, and
catches what Metaflow raises for each, by the names ``metaflow.exception`` gives them."""

from asyncflow import FlowSpec, step
from asyncflow.exception import (
    MetaflowException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)


def caught(call):
    try:
        call()
    except MetaflowException as exc:
        return [type(exc).__name__, exc.headline, getattr(exc, "artifact_names", None)]
    return None


class MergesFlow(FlowSpec):
    @step
    def start(self):
        self.same = "a"
        self.caught = {"not a join": caught(lambda: self.merge_artifacts([]))}
        self.next(self.left, self.right)

    @step
    def left(self):
        self.differs = "left"
        self.next(self.join)

    @step
    def right(self):
        self.differs = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.own = "set here"
        try:
            self.merge_artifacts(inputs, include=["own", "foobar"])
        except MissingInMergeArtifactsException as exc:
            self.missing = exc.artifact_names
        try:
            self.merge_artifacts(inputs)
        except UnhandledInMergeArtifactsException as exc:
            self.unhandled = exc.artifact_names
        self.merged_nothing = not hasattr(self, "same")
        self.caught = {
            **inputs[0].caught,
            "both": caught(lambda: self.merge_artifacts(inputs, include=["a"], exclude=["b"])),
        }
        self.merge_artifacts(inputs, exclude=["differs"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MergesFlow()
