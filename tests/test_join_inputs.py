"""A join's ``inputs``: views built when read, by index, slice and step name."""

import pytest

from asyncflow import FlowSpec
from asyncflow.engine.records import TaskResult
from asyncflow.engine.task import Inputs


class _View(FlowSpec):
    pass


def _inputs(steps: list[str]) -> tuple[Inputs, list[TaskResult]]:
    parents = tuple(TaskResult(s, i, f"F/1/{s}/{i}", {}) for i, s in enumerate(steps))
    built: list[TaskResult] = []

    def view(p: TaskResult) -> FlowSpec:
        built.append(p)
        flow = _View.__new__(_View)
        object.__setattr__(flow, "parent", p)
        return flow

    return Inputs(parents, view), built


def test_no_view_is_built_until_one_is_read():
    inputs, built = _inputs(["a"] * 1000)
    assert len(inputs) == 1000 and built == []
    assert inputs[-1].parent.task_id == 999
    assert [p.task_id for p in built] == [999]


def test_a_view_held_is_the_same_view_read_again():
    inputs, built = _inputs(["a", "b"])
    first = inputs[0]
    assert inputs[0] is first and len(built) == 1


def test_iterating_keeps_no_view_nobody_holds():
    inputs, built = _inputs(["a"] * 50)
    assert sum(1 for _ in inputs) == 50
    assert len(built) == 50
    assert len(inputs._views) == 0


def test_slices_steps_and_bad_positions():
    inputs, _ = _inputs(["a", "b", "c"])
    assert [v.parent.step for v in inputs[1:]] == ["b", "c"]
    assert inputs.b.parent.task_id == 1
    with pytest.raises(IndexError):
        inputs[3]
    with pytest.raises(AttributeError, match="no input comes from step 'z'"):
        _ = inputs.z
