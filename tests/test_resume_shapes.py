"""resume of a nested foreach failed at each kind of step (as Metaflow's core tests
resume a foreach's split, inner step and join, the start step and the end step)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow import Engine, Run, Task
from tests.flows import resume_shapes
from tests.flows.resume_shapes import NestedResumeFlow

pytestmark = pytest.mark.anyio

STEPS = ["start", "split_y", "inner", "join_y", "join_x", "end"]
ALL_VARS = ["ac", "ad", "ae", "bc", "bd", "be"]
ORIGIN_KEYS = {"origin-run-id", "origin-task-id"}


@pytest.fixture(autouse=True)
def reset_signals() -> Iterator[None]:
    resume_shapes.signals.update(fail_at=None, ran=[])
    yield
    resume_shapes.signals.update(fail_at=None, ran=[])


def _key(task: Task) -> tuple[str, tuple[int, ...]]:
    return task.parent.id, tuple(int(f["index"]) for f in task.foreach_stack)


def _tasks(run: Run) -> list[Task]:
    return [task for step in run for task in step]


def _check_clones(origin: Run, run: Run) -> set[tuple[str, tuple[int, ...]]]:
    """Every task of ``run`` names the origin run; a clone also its origin task, whose
    metadata it has (attempt, status), and its value; the keys of the clones."""
    by_id = {task.id: task for task in _tasks(origin)}
    cloned = set()
    for task in _tasks(run):
        meta = task.metadata_dict
        assert meta["origin-run-id"] == origin.id
        if "origin-task-id" not in meta:
            assert task.origin_pathspec is None and task.data.data == "resume"
            continue
        source = by_id[meta["origin-task-id"]]
        assert task.origin_pathspec == source.pathspec and _key(task) == _key(source)
        mine = {k: v for k, v in meta.items() if k not in ORIGIN_KEYS}
        assert mine == {k: v for k, v in source.metadata_dict.items() if k not in ORIGIN_KEYS}
        assert task.data.data == source.data.data == "run"
        cloned.add(_key(task))
    return cloned


@pytest.mark.parametrize("fail_at", STEPS)
async def test_resume_clones_exactly_what_succeeded_wherever_the_run_failed(
    store_root: Path, fail_at: str
) -> None:
    resume_shapes.signals["fail_at"] = fail_at
    failed = await Engine().run(NestedResumeFlow)
    assert failed.status == "failed"
    origin = Run(failed.pathspec)
    succeeded = {_key(t) for t in _tasks(origin) if t.successful}
    assert all(step != fail_at for step, _ in succeeded)
    resume_shapes.signals["ran"] = []

    result = await Engine().resume(NestedResumeFlow)

    assert result.successful, result.traceback
    run = Run(result.pathspec)
    assert run.origin_pathspec == origin.pathspec
    assert _check_clones(origin, run) == succeeded
    ran = set(resume_shapes.signals["ran"])
    assert ran == {_key(t) for t in _tasks(run)} - succeeded
    assert any(step == fail_at for step, _ in ran)
    end = run["end"].task
    assert end is not None and end.data.var == ALL_VARS
    assert sorted(_key(t)[1] for t in run["join_y"]) == [(0,), (1,)]  # one per outer item


async def test_resume_from_a_succeeded_inner_step_reruns_all_its_tasks(store_root: Path) -> None:
    resume_shapes.signals["fail_at"] = "end"
    failed = await Engine().run(NestedResumeFlow)
    resume_shapes.signals["ran"] = []
    result = await Engine().resume(NestedResumeFlow, "inner")
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    cloned = _check_clones(Run(failed.pathspec), run)
    assert {step for step, _ in cloned} == {"start", "split_y"}
    assert len(cloned) == 3
    ran = sorted(resume_shapes.signals["ran"])
    assert [key for key in ran if key[0] == "inner"] == [
        ("inner", (x, y)) for x in range(2) for y in range(3)
    ]
    assert {step for step, _ in ran} == {"inner", "join_y", "join_x", "end"}
    inner = [t.data for t in run["inner"]]
    assert sorted(v for d in inner for v in d.var) == ALL_VARS


async def test_resume_from_start_clones_nothing(store_root: Path) -> None:
    await Engine().run(NestedResumeFlow)
    resume_shapes.signals["ran"] = []
    result = await Engine().resume(NestedResumeFlow, "start")
    run = Run(result.pathspec)
    assert result.successful
    assert all("origin-task-id" not in t.metadata_dict for t in _tasks(run))
    assert len(resume_shapes.signals["ran"]) == 1 + 2 + 6 + 2 + 1 + 1
