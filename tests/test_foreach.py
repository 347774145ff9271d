"""Foreach: fan-out, input/index/foreach_stack, nesting, shapes, failures, isolation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, Run
from asyncflow.exceptions import ForeachError

from .flows.foreach import (
    BadForeachFlow,
    BranchInForeachFlow,
    ForeachFlow,
    ForeachInBranchFlow,
    IsolationFlow,
    NestedForeachFlow,
)

pytestmark = pytest.mark.anyio


def task_data(result: Any, step: str) -> Any:
    task = Run(result.pathspec)[step].task
    assert task is not None
    return task.data


async def test_foreach_gives_each_task_its_item_index_and_stack(store_root: Path) -> None:
    result = await Engine().run(ForeachFlow)
    assert result.status == "successful", result.traceback
    join = task_data(result, "join")
    assert join.outs == ["0:a", "1:b", "2:c"]
    assert join.stacks == [[(0, 3, "a")], [(1, 3, "b")], [(2, 3, "c")]]
    assert join.agains == [[0, "a"], [1, "b"], [2, "c"]]
    assert join.join_index is None
    assert task_data(result, "end").end_input is None


async def test_foreach_tasks_are_recorded_with_their_index(store_root: Path) -> None:
    result = await Engine().run(ForeachFlow)
    work = Run(result.pathspec)["work"]
    assert sorted(t.index for t in work) == [0, 1, 2]  # type: ignore[type-var]


async def test_nested_foreach_reports_every_level(store_root: Path) -> None:
    result = await Engine().run(NestedForeachFlow)
    assert result.status == "successful", result.traceback
    join = task_data(result, "outer_join")
    assert join.grid == [
        [[(i, 2, letter), (j, 3, j + 1)] for j in range(3)] for i, letter in enumerate(["x", "y"])
    ]
    assert join.outer_stacks == [[(0, 2, "x")], [(1, 2, "y")]]


async def test_foreach_inside_a_branch(store_root: Path) -> None:
    result = await Engine().run(ForeachInBranchFlow)
    assert result.status == "successful", result.traceback
    assert task_data(result, "join").values == [5, 100]


async def test_branches_inside_a_foreach_join_per_item(store_root: Path) -> None:
    result = await Engine().run(BranchInForeachFlow)
    assert result.status == "successful", result.traceback
    assert task_data(result, "join").pairs == [[11, 20, 10], [21, 40, 20]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("unset", "step 'start' fans out over self.things, which was never set"),
        (5, "step 'start' fans out over self.things, which is not iterable (it is an int)"),
        ([], "step 'start' fans out over self.things, which is empty"),
        (
            list(range(4)),
            "step 'start' fans out over self.things, which has 4 items, more than "
            "--max-num-splits (3); raise the limit to run it",
        ),
        (
            range(10_000_000),
            "step 'start' fans out over self.things, which has 10000000 items, more than "
            "--max-num-splits (3); raise the limit to run it",
        ),
        (
            itertools.count(),
            "step 'start' fans out over self.things, which has more than 3 items, more than "
            "--max-num-splits (3); raise the limit to run it",
        ),
    ],
    ids=["unset", "not-iterable", "empty", "too-many", "long-range", "unbounded"],
)
async def test_a_bad_foreach_fails_naming_the_artifact(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, value: Any, message: str
) -> None:
    monkeypatch.setattr(BadForeachFlow, "_value", value)
    result = await Engine(max_num_splits=3).run(BadForeachFlow)
    assert isinstance(result.exception, ForeachError)
    assert str(result.exception) == message


class _Drawn:
    """An endless iterator that counts the items drawn from it and refuses to go far."""

    def __init__(self) -> None:
        self.drawn = 0

    def __iter__(self) -> _Drawn:
        return self

    def __next__(self) -> int:
        self.drawn += 1
        if self.drawn > 10:
            raise RuntimeError("the foreach listed far more items than the limit")
        return self.drawn


async def test_the_limit_is_checked_without_listing_the_items(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = _Drawn()
    monkeypatch.setattr(BadForeachFlow, "_value", drawn)
    result = await Engine(max_num_splits=3).run(BadForeachFlow)
    assert isinstance(result.exception, ForeachError), result.traceback
    assert drawn.drawn == 4  # the limit and one more


async def test_an_error_while_iterating_is_raised_as_the_user_raised_it(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def items() -> Iterator[int]:
        yield 1
        raise TypeError("a bad item")

    monkeypatch.setattr(BadForeachFlow, "_value", items())
    result = await Engine().run(BadForeachFlow)
    assert isinstance(result.exception, TypeError)
    assert str(result.exception) == "a bad item"


async def test_max_num_splits_is_a_limit_not_a_target(store_root: Path) -> None:
    result = await Engine(max_num_splits=3).run(ForeachFlow)
    assert result.status == "successful"


async def test_in_place_mutation_stays_inside_the_task(store_root: Path) -> None:
    result = await Engine().run(IsolationFlow)
    assert result.status == "successful", result.traceback
    join = task_data(result, "join")
    assert join.mines == [
        {"shared": {"seen_by": [i]}, "input": {"n": n * 100}, "first": {"n": -1}}
        for i, n in enumerate([1, 2, 3])
    ]
    assert join.rereads == [[{"n": n}, {"n": n}] for n in [1, 2, 3]]
    start = task_data(result, "start")
    assert start.shared == {"seen_by": []}
    assert start.items == [{"n": 1}, {"n": 2}, {"n": 3}]
    # a mutated value is stored as the task's own; the parent's stays as it was
    run = Run(result.pathspec)
    start_task = run["start"].task
    assert start_task is not None
    for task in run["mutate"]:
        assert task["shared"].sha != start_task["shared"].sha
