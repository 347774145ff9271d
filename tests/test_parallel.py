"""``@parallel``: a gang of ``num_parallel`` tasks that run at once, ``current.parallel``,
the join after it, the control task in the client, failures and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow import Engine, FlowSpec, current, parallel, step
from asyncflow.graph import FlowGraph
from asyncflow.lint import lint

from .conftest import run_python

pytestmark = pytest.mark.anyio

INSIDE: list[int] = []
FAIL_NODE: list[int] = []


class GangFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.split)

    @step
    def split(self) -> None:
        self.size = 3
        self.next(self.train, num_parallel=self.size)

    @parallel
    @step
    async def train(self) -> None:
        me = current.parallel
        INSIDE.append(me.node_index)
        with anyio.fail_after(60):  # every node must be running at once to get past this
            while len(INSIDE) < me.num_nodes:
                await anyio.sleep(0.01)
        if me.node_index in FAIL_NODE:
            raise RuntimeError(f"node {me.node_index} broke")
        self.place = (me.node_index, me.num_nodes, me.main_ip, me.control_task_id, self.input)
        if me.node_index > 0:
            return  # workers may end without self.next(), as in Metaflow
        self.next(self.join)

    @step
    def join(self, inputs: list[Any]) -> None:
        self.places = sorted(i.place for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


async def test_a_gang_runs_at_once_even_with_one_worker_slot(store_root: Path) -> None:
    INSIDE.clear()
    FAIL_NODE.clear()
    result = await Engine(max_workers=1).run(GangFlow)
    assert result.successful, result.traceback
    run = result.run
    tasks = run["train"].tasks()
    control = run["train"].control_tasks()
    assert len(tasks) == 3 and [t.id for t in control] == [tasks[0].id]
    join = run["join"].task
    assert join is not None and join.data is not None
    assert join.data.places == [(i, 3, "127.0.0.1", control[0].id, i) for i in range(3)]


async def test_a_failing_node_fails_the_run_and_resume_runs_the_gang_again(
    store_root: Path,
) -> None:
    INSIDE.clear()
    FAIL_NODE[:] = [2]
    failed = await Engine().run(GangFlow)
    assert not failed.successful
    assert "node 2 broke" in str(failed.exception)
    INSIDE.clear()
    FAIL_NODE.clear()
    resumed = await Engine().resume(GangFlow)
    assert resumed.successful, resumed.traceback
    assert len(resumed.run["train"].tasks()) == 3


class BadCountFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.work, num_parallel=0)

    @parallel
    @step
    def work(self) -> None:
        self.next(self.join)

    @step
    def join(self, inputs: list[Any]) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


async def test_num_parallel_must_be_a_positive_whole_number(store_root: Path) -> None:
    result = await Engine().run(BadCountFlow)
    assert not result.successful
    assert "num_parallel=N) needs a whole number N >= 1, got 0" in str(result.exception)


def test_current_parallel_outside_a_parallel_step_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="only while a @parallel step runs"):
        _ = current.parallel


class NotEnteredByNumParallel(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.work)

    @parallel
    @step
    def work(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_lint_wants_num_parallel_into_a_parallel_step() -> None:
    findings = lint(FlowGraph(NotEnteredByNumParallel))
    assert any(
        "a @parallel step 'work' must be entered with self.next(self.work, num_parallel=N)" in f
        for f in findings
    ), findings
    assert FlowGraph(GangFlow)["train"].parallel_step
    assert FlowGraph(GangFlow)["split"].type == "foreach"


GANG_SCRIPT = """
from asyncflow import FlowSpec, parallel, step


class ShowGang(FlowSpec):
    @step
    def start(self):
        self.next(self.work, num_parallel=2)

    @parallel
    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ShowGang()
"""


def test_show_describes_a_num_parallel_transition(store_root: Path) -> None:
    script = store_root.parent / "show_gang.py"
    script.write_text(GANG_SCRIPT)
    proc = run_python(str(script), "show", root=store_root, check=True)
    assert "Step start\n    => work (a @parallel gang of num_parallel tasks)" in proc.stdout
