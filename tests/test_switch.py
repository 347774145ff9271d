"""Switches (Metaflow 2.19's conditional branches): only the chosen case runs, joins
wait for one task per branch, a switch may loop on its own step, resume clones loops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow import Engine, FlowSpec, Run, RunResult, step
from asyncflow.events import Event, TaskCloned
from asyncflow.exceptions import InvalidTransitionError, SwitchError
from asyncflow.graph import FlowGraph, to_dot, to_mermaid

from .conftest import REPO, run_python
from .flows import switches
from .flows.switches import (
    BadCaseFlow,
    BranchSwitchFlow,
    CountdownFlow,
    LoopInForeachFlow,
    RouteFlow,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def no_failure() -> Iterator[None]:
    switches.fail_at["count"] = None
    yield
    switches.fail_at["count"] = None


def test_the_graph_knows_a_switch_its_cases_and_its_loop() -> None:
    graph = FlowGraph(LoopInForeachFlow)
    loop = graph["loop"]
    assert loop.type == "split-switch" and loop.is_switch
    assert loop.condition == "again"
    assert loop.switch_cases == {"True": "loop", "False": "done"}
    assert loop.successors() == ["done"]
    assert [n.name for n in graph.sorted_nodes()] == [
        "start",
        "each",
        "loop",
        "done",
        "join",
        "end",
    ]
    assert ("loop", "loop", "again = True") in graph.edges()
    assert '"loop" -> "done" [label="again = False"];' in to_dot(graph)
    assert "step_loop -->|again = True| step_loop" in to_mermaid(graph)


@pytest.mark.parametrize("route", ["fast", "slow", "off"])
async def test_only_the_chosen_case_runs(store_root: Path, route: str) -> None:
    result = await Engine().run(RouteFlow, {"route": route})
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    assert [s.id for s in run] == ["start", route, "end"]
    assert run.data is not None and run.data.final == route


async def test_a_join_after_a_switch_in_a_branch_waits_for_one_task_per_branch(
    store_root: Path,
) -> None:
    result = await Engine().run(BranchSwitchFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    assert "one" not in run
    join = run["join"].task
    assert join is not None and join.data.all_seen == ["right", "two"]


async def test_a_switch_loops_on_its_own_step_inside_a_foreach(store_root: Path) -> None:
    result = await Engine().run(LoopInForeachFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    assert len(run["loop"].tasks()) == 3 + 1 + 2
    join = run["join"].task
    assert join is not None and join.data.counts == [3, 1, 2]
    # each turn follows the one before it
    for task in run["loop"]:
        (parent,) = task.parent_tasks
        assert parent.path_components[2] in ("each", "loop")


async def test_a_switch_runs_on_worker_processes(store_root: Path) -> None:
    result = await Engine(executor="processes:1").run(LoopInForeachFlow)
    assert result.successful, result.traceback
    join = Run(result.pathspec)["join"].task
    assert join is not None and join.data.counts == [3, 1, 2]


async def test_a_condition_matching_no_case_fails_the_step_naming_the_cases(
    store_root: Path,
) -> None:
    result = await Engine().run(BadCaseFlow)
    assert result.status == "failed"
    assert isinstance(result.exception, SwitchError)
    assert str(result.exception) == (
        "step 'start': the switch's condition self.kind is 'neither', which is none of "
        "its cases ('a', 'b')"
    )


class _UnsetConditionFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.a, "b": self.end}, condition="never_set")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class _PlainNextInSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.kind = "a"
        if self.kind == "a":
            self.next(self.a)
            return
        self.next({"a": self.a, "b": self.end}, condition="kind")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


async def test_an_unset_condition_fails_the_step_naming_it(store_root: Path) -> None:
    result = await Engine().run(_UnsetConditionFlow)
    assert isinstance(result.exception, SwitchError)
    assert "the switch's condition self.never_set was never set" in str(result.exception)


async def test_a_switch_step_that_calls_a_plain_next_fails(store_root: Path) -> None:
    result = await Engine().run(_PlainNextInSwitchFlow)
    assert isinstance(result.exception, InvalidTransitionError)
    assert str(result.exception) == (
        "step 'start' called self.next(a) but its source says self.next({a, b}, condition='kind')"
    )


async def test_resume_clones_the_turns_of_a_loop_before_the_one_that_failed(
    store_root: Path,
) -> None:
    switches.fail_at["count"] = 3
    failed = await Engine().run(CountdownFlow)
    assert failed.status == "failed"
    statuses = [t.successful for t in Run(failed.pathspec)["turn"]]
    assert statuses == [True, True, False]  # turn 3 failed
    switches.fail_at["count"] = None

    events: list[Event] = []
    result = await Engine(listeners=[events.append]).resume(CountdownFlow)

    assert result.successful, result.traceback
    run = Run(result.pathspec)
    assert run.data is not None and run.data.final == 5
    turns = {t.data.count: t for t in run["turn"]}
    assert sorted(turns) == [1, 2, 3, 4, 5]
    origin = {t.data.count: t for t in Run(failed.pathspec)["turn"] if t.successful}
    cloned = {e.origin_pathspec: e.pathspec for e in events if isinstance(e, TaskCloned)}
    for count in (1, 2):  # cloned from the origin's turns 1 and 2, in that order
        assert cloned[origin[count].pathspec] == turns[count].pathspec
    assert sorted(cloned) == sorted([origin[1].pathspec, origin[2].pathspec, _start(failed)])


def _start(result: RunResult) -> str:
    task = Run(result.pathspec)["start"].task
    assert task is not None
    return task.pathspec


def test_show_describes_a_switch(tmp_path: Path) -> None:
    flow_file = REPO / "tests" / "flows" / "switches.py"
    script = tmp_path / "route.py"
    script.write_text(flow_file.read_text() + "\n\nif __name__ == '__main__':\n    RouteFlow()\n")
    proc = run_python(str(script), "show", root=tmp_path / "store", check=True)
    assert "=> fast, slow, off (switch on 'mode': fast -> fast, slow -> slow, off -> off)" in (
        proc.stdout
    )
