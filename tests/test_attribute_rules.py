"""Which attributes of a step become artifacts, and how every artifact is reached again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, FlowSpec, Parameter, Run, current, step
from asyncflow.client import DataArtifact
from asyncflow.exceptions import ParameterReadOnlyError, ReservedArtifactError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class PrivateFlow(FlowSpec):
    @step
    def start(self):
        self._hidden = [1, 2]
        self._Flow__mangled = "kept"  # what `self.__mangled` becomes inside a class
        self.seen_step = self._current_step
        self.next(self.fan, foreach="_hidden")

    @step
    def fan(self):
        frame = self._foreach_stack[-1]
        self.frame = (frame.step, frame.var, frame.index, frame.num_splits)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.frames = sorted(i.frame for i in inputs)
        self.merge_artifacts(inputs, exclude=["frame"])
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self._hidden, self._Flow__mangled, self._current_step)


async def test_private_attributes_are_artifacts_as_in_metaflow(store_root: Path) -> None:
    result = await Engine().run(PrivateFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    start, end = run["start"].task, run["end"].task
    assert start is not None and end is not None
    assert start.data.seen_step == "start"
    assert start["_hidden"].data == [1, 2]
    assert end.data.seen == ([1, 2], "kept", "end")
    assert run["join"].task.data.frames == [("start", "_hidden", 0, 2), ("start", "_hidden", 1, 2)]  # type: ignore[union-attr]
    # the engine's own state is never stored
    names = {a.id for a in end.artifacts}
    assert {"_hidden", "_Flow__mangled"} <= names
    assert names.isdisjoint({"_artifacts", "_transition", "_foreach_frames", "_is_join"})


class ConstantFlow(FlowSpec):
    limit = 123
    labels = ("a", "b")
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.parameter_names = sorted(current.parameter_names)
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self.limit, self.labels, self.alpha)


async def test_class_constants_are_artifacts_of_every_task(store_root: Path) -> None:
    result = await Engine().run(ConstantFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    for name in ("start", "end"):
        task = run[name].task
        assert task is not None
        assert (task.data.limit, task.data.labels, task.data.alpha) == (123, ("a", "b"), 0.5)
    assert run["end"].task.data.seen == (123, ("a", "b"), 0.5)  # type: ignore[union-attr]
    assert run["start"].task.data.parameter_names == ["alpha"]  # type: ignore[union-attr]


def _assigning(name: str) -> type[FlowSpec]:
    class AssignFlow(FlowSpec):
        limit = 3
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            setattr(self, name, 1)
            self.next(self.end)

        @step
        def end(self):
            pass

    return AssignFlow


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("alpha", ParameterReadOnlyError, "'alpha' is a Parameter and cannot be assigned"),
        ("limit", ParameterReadOnlyError, "'limit' is a constant of the flow class"),
        ("", ReservedArtifactError, "'' is empty: no artifact can have that name"),
        ("a/b", ReservedArtifactError, "'a/b' contains '/', which separates the parts"),
        ("_current_step", ReservedArtifactError, "'_current_step' is reserved by asyncflow"),
        ("_transition", ReservedArtifactError, "'_transition' is reserved by asyncflow"),
        ("_switched_on", ReservedArtifactError, "'_switched_on' is reserved by asyncflow"),
    ],
)
async def test_names_a_step_cannot_assign_fail_it_clearly(
    store_root: Path, name: str, error: type[Exception], words: str
) -> None:
    result = await Engine().run(_assigning(name))
    assert not result.successful
    assert isinstance(result.exception, error)
    assert words in str(result.exception)
    assert "in step 'start'" in str(result.exception)


async def test_parameters_and_constants_refuse_with_an_attribute_error(store_root: Path) -> None:
    for name in ("alpha", "limit"):
        result = await Engine().run(_assigning(name))
        assert isinstance(result.exception, AttributeError)


class ShadowFlow(FlowSpec):
    @step
    def start(self):
        for name in ("aget", "count", "copy", "sort", "index", "append"):
            setattr(self, name if name != "index" else "index_", f"value of {name}")
        self.next(self.end)

    @step
    def end(self):
        pass


async def test_artifacts_named_like_client_methods_are_reachable(store_root: Path) -> None:
    result = await Engine().run(ShadowFlow)
    assert result.successful, result.traceback
    task = Run(result.pathspec)["end"].task
    assert task is not None
    data, artifacts = task.data, task.artifacts
    for name in ("aget", "count", "copy", "sort", "append"):
        assert data[name] == f"value of {name}"
        assert getattr(data, name) == f"value of {name}"
        named: Any = getattr(artifacts, name)
        assert isinstance(named, DataArtifact) and named.data == f"value of {name}"
        assert artifacts[name].data == f"value of {name}"
    assert isinstance(artifacts[0], DataArtifact)  # still a list by position
    with pytest.raises(KeyError, match="has no artifact 'missing'"):
        data["missing"]


async def test_without_such_artifacts_the_methods_still_work(store_root: Path) -> None:
    result = await Engine().run(ConstantFlow)
    task = Run(result.pathspec)["end"].task
    assert task is not None
    assert await task.data.aget("limit") == 123
    assert task.artifacts.count(task.artifacts[0]) == 1
