"""Join barriers: collect the tasks a join step waits for, then release them in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import FlowGraph
from .records import TaskInput, TaskResult

__all__ = ["JoinBarriers"]


@dataclass
class _Barrier:
    expected: int
    arrived: dict[int, TaskResult] = field(default_factory=dict)


class JoinBarriers:
    """Tracks every open join; ``arrive`` returns the join's input once all parents are in."""

    def __init__(self, graph: FlowGraph) -> None:
        self._graph = graph
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
        if split is not None and split.type == "foreach":
            outer, position, expected = frames[:-1], frames[-1].index, frames[-1].num_splits
        else:
            # one arrival per branch of the split: the steps a switch chooses between
            # lie on one branch, and only one of them runs
            branches = self._branches(join, node.in_funcs)
            outer, expected = frames, len(branches)
            position = branches.index(self._graph.join_branch(join, result.step))
        key = (join, *((f.step, f.index) for f in outer))
        barrier = self._open.setdefault(key, _Barrier(expected))
        barrier.arrived[position] = result
        if len(barrier.arrived) < barrier.expected:
            return None
        del self._open[key]
        parents = tuple(barrier.arrived[i] for i in sorted(barrier.arrived))
        return TaskInput(join, parents, outer)
