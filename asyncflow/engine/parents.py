"""A join's parents: task ids in order, their artifacts read from the metadata store.

A join of 100,000 tasks would otherwise hold 100,000 results (refs, inline bytes,
frames) from the first task's end to the join's. What it keeps instead is the ids,
each parent's step and, for a foreach, the items; a parent's artifacts are read when
first asked for, with those of a page of parents in one bulk read
(``MetadataStore.list_artifacts_of_tasks``).
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Sequence
from typing import Any, overload

from ..flowspec import ForeachFrame
from ..store import ArtifactRef, MetadataStore
from .records import TaskInput, TaskResult

__all__ = ["JoinParents", "first_from", "parent_ids", "reading_from"]

#: The foreach a join closes, as each parent's last frame has it: step, var, num_splits.
Split = tuple[str, str, int]


class JoinParents(Sequence[TaskResult]):
    """The tasks a join follows, in order; each is built as a :class:`TaskResult` when
    read, its artifacts read with those of :attr:`PAGE` parents around it in one bulk read.

    Pickled without its store (a worker reads its own: see :func:`reading_from`).
    """

    #: How many parents' artifacts one bulk read fetches (and the join holds at most,
    #: unless its body keeps them).
    PAGE = 1000

    def __init__(
        self,
        flow: str,
        run_id: int,
        ids: array[int],
        step_of: array[int],
        steps: tuple[str, ...],
        outer: tuple[ForeachFrame, ...],
        split: Split | None = None,
        items: list[Any] | None = None,
        store: MetadataStore | None = None,
    ) -> None:
        self._flow, self._run_id, self._ids = flow, run_id, ids
        self._step_of, self._steps, self._outer = step_of, steps, outer
        self._split, self._items, self._store = split, items, store
        self._page: tuple[int, dict[int, list[ArtifactRef]]] | None = None
        self._id_list: list[int] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        state = (self._flow, self._run_id, self._ids, self._step_of, self._steps, self._outer,
                 self._split, self._items)  # fmt: skip
        return JoinParents, state

    def reading(self, store: MetadataStore) -> JoinParents:
        """The same parents, their artifacts read from ``store``."""
        return JoinParents(
            self._flow, self._run_id, self._ids, self._step_of, self._steps, self._outer,
            self._split, self._items, store,
        )  # fmt: skip

    @property
    def task_ids(self) -> list[int]:
        """The parents' task ids, in order (nothing read); the same list each time (the
        join's records of its attempts share it: 100,000 ids are 3.6 MB as a list)."""
        if self._id_list is None:
            self._id_list = self._ids.tolist()
        return self._id_list

    def preread(self) -> None:
        """Read the first page of parents' artifacts now (an async join calls this in a
        worker thread, so a join of up to :attr:`PAGE` parents reads nothing on the loop)."""
        if len(self._ids) and self._store is not None:
            self._artifacts(0)

    def position_of(self, step: str) -> int | None:
        """Where the first parent from ``step`` is, or None (nothing read)."""
        if step not in self._steps:
            return None
        index = self._steps.index(step)
        return next(i for i, s in enumerate(self._step_of) if s == index)

    def pathspecs(self) -> list[str]:
        """The parents' pathspecs, in order (nothing read)."""
        return [self._pathspec(i) for i in range(len(self._ids))]

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> TaskResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[TaskResult]: ...
    def __getitem__(self, index: int | slice) -> TaskResult | list[TaskResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self._ids))[index]]
        position = range(len(self._ids))[index]  # negative indices, IndexError
        step = self._steps[self._step_of[position]]
        return TaskResult(
            step, self._ids[position], self._pathspec(position), self._artifacts(position),
            self._frames(position),
        )  # fmt: skip

    def _pathspec(self, position: int) -> str:
        step = self._steps[self._step_of[position]]
        return f"{self._flow}/{self._run_id}/{step}/{self._ids[position]}"

    def _frames(self, position: int) -> tuple[ForeachFrame, ...]:
        if self._split is None or self._items is None:
            return self._outer  # a branch of a split: the join's own frames
        step, var, num_splits = self._split
        return (*self._outer, ForeachFrame(step, var, position, num_splits, self._items[position]))

    def _artifacts(self, position: int) -> dict[str, ArtifactRef]:
        number = position // self.PAGE
        page = self._page
        if page is None or page[0] != number:
            if self._store is None:
                raise RuntimeError(
                    f"the parents of a join of {self._flow}/{self._run_id} were sent without "
                    "a metadata store to read them from (see engine/parents.py: reading_from)"
                )
            ids = self._ids[number * self.PAGE : (number + 1) * self.PAGE]
            page = self._page = None  # one page at a time, not two while the next is read
            page = self._page = (
                number, self._store.list_artifacts_of_tasks(self._flow, self._run_id, ids)
            )  # fmt: skip
        return {ref.name: ref for ref in page[1].get(self._ids[position], ())}


def parent_ids(inp: TaskInput) -> list[int]:
    """The ids of the tasks ``inp`` follows, in order, without reading their artifacts."""
    if isinstance(inp.parents, JoinParents):
        return inp.parents.task_ids
    return [p.task_id for p in inp.parents]


def first_from(parents: Sequence[TaskResult], step: str) -> int | None:
    """Where the first of ``parents`` from ``step`` is, or None; a join's without reading
    their artifacts."""
    if isinstance(parents, JoinParents):
        return parents.position_of(step)
    return next((i for i, p in enumerate(parents) if p.step == step), None)


def reading_from(inp: TaskInput, store: MetadataStore) -> TaskInput:
    """``inp`` with a join's parents read from ``store`` (a worker's own)."""
    if isinstance(inp.parents, JoinParents):
        return dataclasses.replace(inp, parents=inp.parents.reading(store))
    return inp
