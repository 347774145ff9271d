"""Join barriers: collect the tasks a join step waits for, then release them in order."""

from __future__ import annotations

from array import array
from typing import Any

from ..flowspec import ForeachFrame
from ..graph import FlowGraph
from ..store import MetadataStore
from .parents import JoinParents, Split
from .records import TaskInput, TaskResult

__all__ = ["JoinBarriers"]


class _Barrier:
    """One open join: the id of the task at each position, its step, and for a foreach
    the item (what the join's views need); the rest of each result is dropped."""

    __slots__ = ("arrived", "ids", "items", "outer", "split", "step_of", "steps")

    def __init__(self, expected: int, outer: tuple[ForeachFrame, ...], split: Split | None):
        self.ids = array("q", bytes(8 * expected))  # 0: not arrived (task ids start at 1)
        self.step_of = array("H", bytes(2 * expected))
        self.steps: list[str] = []
        self.items: list[Any] | None = [None] * expected if split is not None else None
        self.outer, self.split, self.arrived = outer, split, 0

    def add(self, position: int, result: TaskResult) -> bool:
        """Note ``result`` at ``position``; whether every position is filled."""
        if self.ids[position] == 0:
            self.arrived += 1
        self.ids[position] = result.task_id
        if result.step not in self.steps:
            self.steps.append(result.step)
        self.step_of[position] = self.steps.index(result.step)
        if self.items is not None:
            self.items[position] = result.frames[-1].item
        return self.arrived == len(self.ids)


class JoinBarriers:
    """Tracks every open join; ``arrive`` returns the join's input once all parents are in.

    The input's parents are read from ``store`` (the run's ``flow`` and ``run_id``) when
    the join asks for them (see engine/parents.py).
    """

    def __init__(self, graph: FlowGraph, store: MetadataStore, flow: str, run_id: int) -> None:
        self._graph = graph
        self._store, self._flow, self._run_id = store, flow, run_id
        self._split_of = {
            node.matching_join: node.name for node in graph if node.matching_join is not None
        }
        self._open: dict[tuple[object, ...], _Barrier] = {}

    def _branches(self, join: str, in_funcs: list[str]) -> list[str | None]:
        return list(dict.fromkeys(self._graph.join_branch(join, name) for name in in_funcs))

    def arrive(self, join: str, result: TaskResult) -> TaskInput | None:
        """Record ``result`` reaching ``join``; the join's input when it is complete."""
        node = self._graph[join]
        split = self._graph[self._split_of[join]] if join in self._split_of else None
        frames = result.frames
        last: Split | None = None
        if split is not None and split.type == "foreach":
            outer, position, expected = frames[:-1], frames[-1].index, frames[-1].num_splits
            last = (frames[-1].step, frames[-1].var, expected)
        else:
            # one arrival per branch of the split: the steps a switch chooses between
            # lie on one branch, and only one of them runs
            branches = self._branches(join, node.in_funcs)
            outer, expected = frames, len(branches)
            position = branches.index(self._graph.join_branch(join, result.step))
        key = (join, *((f.step, f.index) for f in outer))
        barrier = self._open.get(key)
        if barrier is None:
            barrier = self._open[key] = _Barrier(expected, outer, last)
        if not barrier.add(position, result):
            return None
        del self._open[key]
        parents = JoinParents(
            self._flow, self._run_id, barrier.ids, barrier.step_of, tuple(barrier.steps),
            barrier.outer, barrier.split, barrier.items, self._store,
        )  # fmt: skip
        return TaskInput(join, parents, outer)
