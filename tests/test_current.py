"""``current`` inside concurrent tasks, and the --max-workers bound, without timing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from asyncflow import Engine, FlowSpec, Run, current
from asyncflow.engine import current_user

from .flows import concurrency
from .flows.concurrency import AsyncCurrentFlow, Probe, ThreadCurrentFlow

pytestmark = pytest.mark.anyio


def install_probe(monkeypatch: pytest.MonkeyPatch, target: int, items: int | None = None) -> Probe:
    probe = Probe(target, items)
    monkeypatch.setattr(concurrency, "PROBE", probe)
    return probe


def expected_seen(run: Run, flow: str) -> list[list[dict[str, object]]]:
    user = current_user()
    tasks = sorted(run["work"], key=lambda t: t.index or 0)
    return [
        [
            {
                "flow_name": flow,
                "run_id": run.id,
                "step_name": "work",
                "task_id": task.id,
                "pathspec": task.pathspec,
                "retry_count": 0,
                "origin_run_id": None,
                "namespace": f"user:{user}",
                "username": user,
                "tags": ["nightly"],  # user tags only, as Metaflow's
                "is_running_flow": True,
            }
        ]
        * 2
        for task in tasks
    ]


@pytest.mark.parametrize("flow", [AsyncCurrentFlow, ThreadCurrentFlow])
async def test_current_names_each_of_many_concurrent_tasks(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, flow: type[FlowSpec]
) -> None:
    probe = install_probe(monkeypatch, 4)
    with anyio.fail_after(120):  # a safety net for a deadlock, not a measure
        result = await Engine(max_workers=4).run(flow, tags=["nightly"])
    assert result.status == "successful", result.traceback
    assert probe.peak == 4  # all four were inside at once when they read `current`
    run = Run(result.pathspec)
    join = run["join"].task
    assert join is not None
    assert join.data.seen == expected_seen(run, flow.__name__)


@pytest.mark.parametrize("flow", [AsyncCurrentFlow, ThreadCurrentFlow])
@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_max_workers_bounds_the_tasks_running_at_once(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, flow: type[FlowSpec], workers: int
) -> None:
    # six tasks; the first `workers` of them hold until the bound is reached
    probe = install_probe(monkeypatch, workers, items=6)
    with anyio.fail_after(120):
        result = await Engine(max_workers=workers).run(flow)
    assert result.status == "successful", result.traceback
    assert probe.peak == workers


def test_current_outside_a_task_is_empty() -> None:
    assert current.is_running_flow is False
    assert (current.flow_name, current.run_id, current.step_name, current.task_id) == (
        None,
        None,
        None,
        None,
    )
    assert current.pathspec is None
    assert current.retry_count == 0
    assert current.tags == frozenset()


async def test_a_running_task_finds_itself_and_keeps_client_objects(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asyncflow import NotFoundError, Task, namespace
    from asyncflow.client import _namespaces

    from .flows.client_flows import SelfAwareFlow

    result = await Engine().run(SelfAwareFlow, tags=["mine"])
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    start, end = run["start"].task, run["end"].task
    assert start is not None and end is not None
    assert start.data.seen == {
        "pathspec": start.pathspec,
        "finished": False,
        "successful": False,
        "artifacts": [],  # nothing is committed before the task ends
        "run": run.pathspec,
        "step": "start",
    }
    assert start.data.other == "not found"  # only the task itself, not one yet to run
    assert end.data.run_tags == ["mine", "tagged-while-running"]
    assert "tagged-while-running" in run.user_tags
    monkeypatch.setattr(_namespaces, "_namespace", _namespaces._namespace)  # restored after
    namespace("somebody-else")  # unpickled client objects skip the namespace check
    assert start.data.task_obj.pathspec == start.pathspec
    assert start.data.task_obj.successful  # read again: the committed record
    assert start.data.run_obj.pathspec == run.pathspec
    assert start.data.run_obj["end"].id == "end"
    assert end.data.task_obj.parent.parent.id == run.id
    namespace(None)
    with pytest.raises(NotFoundError):
        Task(f"{run.pathspec}/start/999")
    assert current.task is None and current.run is None
