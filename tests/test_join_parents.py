"""A join's parents: the barrier keeps ids, the join reads their artifacts from the
metadata store a page of parents per query, in the engine, on a worker and on resume."""

from __future__ import annotations

import dataclasses
import gc
import pickle
import random
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, Run
from asyncflow.engine.joins import JoinBarriers
from asyncflow.engine.parents import JoinParents, first_from, parent_ids, reading_from
from asyncflow.engine.records import TaskInput, TaskResult
from asyncflow.engine.task import input_reads
from asyncflow.exceptions import UnhandledInMergeArtifactsError
from asyncflow.executors.spec import spec_input
from asyncflow.flowspec import ForeachFrame
from asyncflow.graph import FlowGraph
from asyncflow.store import ArtifactRef, Datastore, SQLiteMetadataStore, TaskRecord
from asyncflow.store.metadata import ROW_VALUE_MAX

from .flows.wide import WideFlow, WideMergeFlow

pytestmark = pytest.mark.anyio


class _Refs(dict[str, ArtifactRef]):
    """A task's refs that can be watched for being let go (a plain dict cannot)."""


def _ref(name: str, task_id: int) -> ArtifactRef:
    data = b"\x01" + task_id.to_bytes(4, "big")
    return ArtifactRef(name, f"{task_id:064x}", "msgpack/1", len(data), "int", {}, True, data)


class _Counting:
    """The store, counting the bulk reads a join makes."""

    def __init__(self, store: SQLiteMetadataStore) -> None:
        self.store, self.reads = store, 0

    def list_artifacts_of_tasks(
        self, flow: str, run_id: int, task_ids: Sequence[int]
    ) -> dict[int, list[ArtifactRef]]:
        self.reads += 1
        return self.store.list_artifacts_of_tasks(flow, run_id, task_ids)


def _fan(tmp_path: Path, width: int) -> tuple[SQLiteMetadataStore, int, list[TaskResult]]:
    """``width`` committed ``work`` tasks (ids 2..), each with an inline ``out``."""
    store = SQLiteMetadataStore(tmp_path / "meta.db")
    run = store.create_run("WideFlow", "ann", {}, [], []).run_id
    results = []
    for i in range(width):
        task_id = 2 + i
        out = _ref("out", task_id)
        store.commit_task(TaskRecord("WideFlow", run, "work", task_id, "successful"), [out])
        frames = (ForeachFrame("start", "items", i, width, {"item": i}),)
        pathspec = f"WideFlow/{run}/work/{task_id}"
        results.append(TaskResult("work", task_id, pathspec, _Refs(out=out), frames))
    return store, run, results


def _join_input(store: Any, run: int, results: list[TaskResult]) -> TaskInput:
    barriers = JoinBarriers(FlowGraph(WideFlow), store, "WideFlow", run)
    ready = None
    for result in random.Random(7).sample(results, len(results)):  # any order of finishing
        ready = barriers.arrive("join", result)
    assert ready is not None
    return ready


def test_the_barrier_keeps_no_result_of_a_task_that_arrived(tmp_path: Path) -> None:
    store, run, results = _fan(tmp_path, 30)
    barriers = JoinBarriers(FlowGraph(WideFlow), store, "WideFlow", run)
    watched = [weakref.ref(r.artifacts) for r in results]
    for result in results[:-1]:
        assert barriers.arrive("join", result) is None
    del result, results[:-1]
    gc.collect()
    assert [w() is None for w in watched] == [True] * 29 + [False]
    ready = barriers.arrive("join", results.pop())
    assert ready is not None and isinstance(ready.parents, JoinParents)
    assert parent_ids(ready) == list(range(2, 32))
    store.close()


def test_a_join_reads_its_parents_a_page_per_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    store, run, results = _fan(tmp_path, 25)
    counting = _Counting(store)
    parents = _join_input(counting, run, results).parents
    assert counting.reads == 0 and len(parents) == 25  # nothing read until asked
    first = [parents[i] for i in range(10)]
    assert counting.reads == 1
    assert [p.task_id for p in first] == list(range(2, 12))
    last = parents[-1]
    assert counting.reads == 2
    assert (last.step, last.task_id, last.pathspec) == ("work", 26, f"WideFlow/{run}/work/26")
    assert last.artifacts == {"out": _ref("out", 26)}
    assert last.artifacts["out"].data == _ref("out", 26).data  # inline bytes come along
    (frame,) = last.frames
    assert (frame.step, frame.var, frame.index, frame.num_splits) == ("start", "items", 24, 25)
    assert frame.value == {"item": 24}
    assert [p.task_id for p in parents[10:12]] == [12, 13] and counting.reads == 3
    with pytest.raises(IndexError):
        parents[25]
    store.close()


def test_a_join_missing_an_attribute_hints_from_one_page_of_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hasattr(self, name)`` in a join builds the hint of its message: it must not read
    every input's artifacts each time."""
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    store, run, results = _fan(tmp_path, 25)
    counting = _Counting(store)
    inp = _join_input(counting, run, results)
    inp.parents[-1]  # the body is reading the last page
    reads = input_reads(FlowGraph(WideFlow)["join"], inp)
    assert [reads("nope"), reads("nope"), reads("out")] == [None, None, "[i.out for i in inputs]"]
    assert counting.reads == 2  # the last page, then the first for the hints: not all three
    assert first_from(inp.parents, "work") == 0 and first_from(inp.parents, "start") is None
    assert counting.reads == 2  # `inputs.work` finds its input by step, reading nothing
    store.close()


def test_a_parent_sent_to_a_worker_keeps_every_field_but_large_bytes_and_items() -> None:
    frames = (ForeachFrame("start", "x", 1, 2, "b"),)
    big = dataclasses.replace(_ref("big", 8), data=bytes(ROW_VALUE_MAX + 1))
    parent = TaskResult("pick", 7, "F/1/pick/7", {"n": _ref("n", 7), "big": big}, frames,
                        foreach_items=[1, 2], chosen="left", iteration=3)  # fmt: skip
    (sent,) = spec_input(TaskInput("left", (parent,), frames, iteration=4)).parents
    assert sent.foreach_items is None
    # small inline bytes go along (a task inheriting one commits them in its row)
    assert sent.artifacts["n"] == parent.artifacts["n"]
    assert sent.artifacts["big"] == dataclasses.replace(big, data=None)
    kept = [f.name for f in dataclasses.fields(TaskResult)
            if f.name not in ("artifacts", "foreach_items")]  # fmt: skip
    assert [getattr(sent, name) for name in kept] == [getattr(parent, name) for name in kept]
    assert (sent.chosen, sent.iteration) == ("left", 3)


def test_parents_travel_without_their_store_and_a_worker_binds_its_own(tmp_path: Path) -> None:
    store, run, results = _fan(tmp_path, 3)
    inp = _join_input(store, run, results)
    assert spec_input(inp) is inp  # no refs to strip: ids and items go as they are
    sent = pickle.loads(pickle.dumps(inp))
    assert parent_ids(sent) == [2, 3, 4] and len(pickle.dumps(inp)) < 2000
    with pytest.raises(RuntimeError, match="without a metadata store"):
        sent.parents[0]
    bound = reading_from(sent, store)
    assert [p.artifacts["out"].data for p in bound.parents] == [
        _ref("out", i).data for i in (2, 3, 4)
    ]
    store.close()


async def test_a_join_of_several_pages_sees_every_input_in_order(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    result = await Engine(max_num_splits=25).run(WideFlow, {"n": 25})
    assert result.status == "successful", result.traceback
    run = Run(result.pathspec)
    assert run["join"].task.data.outs == list(range(25))  # type: ignore[union-attr]
    work = sorted(t.id for t in run["work"].tasks())
    parents = [t.id for t in run["join"].task.parent_tasks]  # type: ignore[union-attr]
    assert sorted(parents) == work


async def test_a_join_merges_what_inputs_of_several_pages_agree_on(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    merged = await Engine(max_num_splits=25).run(WideMergeFlow)
    assert merged.status == "successful", merged.traceback
    join = Run(merged.pathspec)["join"].task
    assert join is not None and join.data.common == "the same everywhere"
    assert join["items"].sha == Run(merged.pathspec)["start"].task["items"].sha  # type: ignore[index]
    assert "out" not in join
    conflict = await Engine(max_num_splits=25).run(WideMergeFlow, {"exclude": ""})
    assert isinstance(conflict.exception, UnhandledInMergeArtifactsError)
    assert conflict.exception.artifact_names == ["out"]


async def test_a_resumed_join_reads_the_parents_its_run_cloned(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    first = await Engine(max_num_splits=25).run(WideFlow, {"n": 25})
    again = await Engine(max_num_splits=25).resume(WideFlow, "join")
    assert again.status == "successful", again.traceback
    assert again.run_id != first.run_id
    assert Run(again.pathspec)["join"].task.data.outs == list(range(25))  # type: ignore[union-attr]


async def test_a_join_reads_its_parents_and_their_inline_values_from_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_server: Any
) -> None:
    monkeypatch.setattr(JoinParents, "PAGE", 10)
    monkeypatch.chdir(tmp_path)
    store = Datastore.open(str(tmp_path / "blobs"), metadata=postgres_server.fresh_url())
    result = await Engine(store, max_num_splits=25).run(WideFlow, {"n": 25})
    assert result.successful, result.traceback
    run = Run(result.pathspec, root=store.urls)
    assert run["join"].task.data.outs == list(range(25))  # type: ignore[union-attr]
    work = int(run["work"].tasks()[0].id)
    (out,) = [r for r in store.metadata.list_artifacts("WideFlow", result.run_id, work)
              if r.name == "out"]  # fmt: skip
    assert out.inline  # the values the join read were inline


async def test_a_join_on_worker_processes_reads_its_parents_there(store_root: Path) -> None:
    result = await Engine(executor="processes:2", max_num_splits=12).run(WideFlow, {"n": 12})
    assert result.status == "successful", result.traceback
    assert Run(result.pathspec)["join"].task.data.outs == list(range(12))  # type: ignore[union-attr]
