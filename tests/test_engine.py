from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest

from asyncflow import Engine, Flow, FlowSpec, NotFoundError, Run, TagError, step
from asyncflow.exceptions import (
    InvalidTransitionError,
    LintError,
    RepeatedNextError,
    ReservedArtifactError,
)
from asyncflow.store import Datastore, RunRecord

from .flows.linear import FailingFlow, MixedFlow, TransitionFlow, WrongNextFlow

pytestmark = pytest.mark.anyio


async def test_mixed_flow_runs_and_persists_every_artifact(store_root: Path) -> None:
    result = await Engine().run(MixedFlow)
    assert result.status == "successful"
    run = Flow("MixedFlow").latest_run
    assert run is not None and run.successful and run.finished
    assert run.data is not None
    assert run.data.numbers == [2, 4, 6, 100]
    assert run.data.total == 112
    double, start = run["double"].task, run["start"].task
    assert double is not None and start is not None
    assert double.data.numbers == [2, 4, 6]
    assert start.data.numbers == [1, 2, 3]


async def test_current_names_the_task_in_threads_and_on_the_loop(store_root: Path) -> None:
    result = await Engine().run(MixedFlow)
    run = Run(result.pathspec)
    double, grow = run["double"].task, run["grow"].task
    assert double is not None and grow is not None
    assert double.data.thread_pathspec == double.pathspec
    assert grow.data.loop_pathspec == grow.pathspec


async def test_untouched_artifacts_are_passed_by_reference(store_root: Path) -> None:
    result = await Engine().run(MixedFlow)
    run = Run(result.pathspec)
    start, end = run["start"].task, run["end"].task
    assert start is not None and end is not None
    assert end["untouched"].sha == start["untouched"].sha
    # `config` was read in `double` but not changed: still the same stored value.
    assert end["config"].sha == start["config"].sha


async def test_step_output_is_captured_per_task(store_root: Path) -> None:
    result = await Engine().run(MixedFlow)
    grow = Run(result.pathspec)["grow"].task
    assert grow is not None
    assert grow.stdout == "grew to 4\n"


async def test_failure_keeps_completed_tasks_and_names_the_task(store_root: Path) -> None:
    result = await Engine().run(FailingFlow)
    assert result.status == "failed"
    assert result.failed_pathspec == f"FailingFlow/{result.run_id}/explode/2"
    assert isinstance(result.exception, ValueError)
    assert result.traceback is not None and "the answer is not 42" in result.traceback
    run = Run(result.pathspec)
    assert not run.successful and run.finished
    start = run["start"].task
    assert start is not None and start.data.before == "committed"
    failed = run["explode"].task
    assert failed is not None and not failed.successful
    assert failed.exception is not None
    assert (failed.exception.type, failed.exception.exception) == (
        "builtins.ValueError",
        "the answer is not 42",
    )
    assert "ValueError: the answer is not 42" in failed.exception.stacktrace
    assert "partial" not in failed
    assert run.data is None


async def test_transition_that_differs_from_the_source_fails_the_task(store_root: Path) -> None:
    result = await Engine().run(WrongNextFlow)
    assert isinstance(result.exception, InvalidTransitionError)
    assert str(result.exception) == (
        "step 'start' called self.next(end) but its source says self.next(middle)"
    )


class ReservedFlow(FlowSpec):
    @step
    def start(self):
        self.index = 3  # type: ignore[misc]
        self.next(self.end)

    @step
    def end(self):
        pass


async def test_assigning_a_reserved_name_fails_clearly(store_root: Path) -> None:
    result = await Engine().run(ReservedFlow)
    assert isinstance(result.exception, ReservedArtifactError)
    assert str(result.exception) == (
        "'index' is reserved by asyncflow and cannot be an artifact in step 'start'"
    )


class NoEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        pass


async def test_a_broken_graph_is_refused_before_any_task(store_root: Path) -> None:
    with pytest.raises(LintError) as info:
        await Engine().run(NoEndFlow)
    finish_line = inspect.getsourcelines(NoEndFlow.finish)[1] + 1
    assert info.value.findings == [
        f"the flow NoEndFlow ({__file__}:{inspect.getsourcelines(NoEndFlow)[1]}) has no 'end' "
        "step; add one",
        f"step 'finish' ({__file__}:{finish_line}): the last statement of a step must be "
        "self.next(...)",
    ]
    with pytest.raises(NotFoundError, match="flow 'NoEndFlow' does not exist"):
        Flow("NoEndFlow")


async def test_two_runs_share_one_loop_and_one_store(store_root: Path) -> None:
    import anyio

    engine = Engine(Datastore(store_root))
    results = []

    async def one() -> None:
        results.append(await engine.run(MixedFlow))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    assert sorted(r.status for r in results) == ["successful", "successful"]
    assert len({r.run_id for r in results}) == 2
    assert [r.id for r in Flow("MixedFlow").runs()] == sorted(
        (str(r.run_id) for r in results), key=int, reverse=True
    )


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        (
            "twice",
            RepeatedNextError,
            "step 'start' called self.next() twice: self.next(each, foreach='items'), then "
            "self.next(each, foreach='items'); call it once, as the step's last statement",
        ),
        (
            "no-foreach",
            InvalidTransitionError,
            "step 'start' called self.next(each) but its source says "
            "self.next(each, foreach='items')",
        ),
        (
            "other-var",
            InvalidTransitionError,
            "step 'start' called self.next(each, foreach='others') but its source says "
            "self.next(each, foreach='items')",
        ),
        (
            "none",
            InvalidTransitionError,
            "step 'start' ended without calling self.next(); its source says "
            "self.next(each, foreach='items')",
        ),
    ],
)
async def test_each_wrong_transition_fails_naming_both(
    store_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setattr(TransitionFlow, "mode", mode)
    result = await Engine().run(TransitionFlow)
    assert type(result.exception) is error
    assert str(result.exception) == message


async def test_the_matching_transition_runs(store_root: Path) -> None:
    result = await Engine().run(TransitionFlow)
    assert result.status == "successful"


class ReservedNamesFlow(FlowSpec):
    target = "cmd"

    @step
    def start(self):
        setattr(self, type(self).target, 1)
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize("name", ["cmd", "input", "next", "foreach_stack", "merge_artifacts"])
async def test_reserved_names_cannot_be_artifacts(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(ReservedNamesFlow, "target", name)
    result = await Engine().run(ReservedNamesFlow)
    assert isinstance(result.exception, ReservedArtifactError)
    assert str(result.exception) == (
        f"'{name}' is reserved by asyncflow and cannot be an artifact in step 'start'"
    )


async def test_a_run_cancelled_while_its_record_is_written_is_recorded_cancelled(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine()
    meta = engine.datastore.metadata
    create_run = meta.create_run
    with anyio.CancelScope() as scope:

        def create_then_cancel(*args: Any) -> RunRecord:
            record = create_run(*args)
            anyio.from_thread.run_sync(scope.cancel)
            return record

        monkeypatch.setattr(meta, "create_run", create_then_cancel)
        await engine.run(MixedFlow)
    assert scope.cancelled_caught
    assert Run("MixedFlow/1").status == "cancelled"  # not "running" for ever


def test_an_engine_needs_room_for_a_task() -> None:
    with pytest.raises(ValueError, match=r"^max_workers \(0\) and max_num_splits \(100\) must"):
        Engine(max_workers=0)  # refused before any datastore is opened


async def test_an_empty_tag_is_refused_before_anything_is_stored(store_root: Path) -> None:
    with pytest.raises(TagError) as info:
        await Engine().run(MixedFlow, tags=["nightly", " "])
    assert info.value.message == "cannot use tag ' ': a tag must be a non-empty string"
    with pytest.raises(NotFoundError):
        Flow("MixedFlow")


class _ListenerBroke(Exception):
    pass


async def test_a_failure_outside_every_task_is_recorded_with_its_reason(
    store_root: Path,
) -> None:
    def breaks_on_a_task(event: Any) -> None:
        if type(event).__name__ == "TaskStarted":
            raise _ListenerBroke("the listener broke")

    with pytest.raises(_ListenerBroke):
        await Engine(listeners=[breaks_on_a_task]).run(MixedFlow)
    run = Flow("MixedFlow").latest_run
    assert run is not None and run.finished and not run.successful
    assert run.exception is not None
    assert run.exception.rstrip().endswith("_ListenerBroke: the listener broke")


async def test_every_task_of_a_linear_flow_has_its_own_id(store_root: Path) -> None:
    """A task after a linear transition gets a fresh id; a reused id would overwrite the
    record of an earlier task, and that step would vanish from the run."""
    result = await Engine().run(MixedFlow)
    run = Run(result.pathspec)
    tasks = {step.id: [t.id for t in step] for step in run}
    assert sorted(tasks) == ["double", "end", "grow", "start"]
    ids = [i for step_ids in tasks.values() for i in step_ids]
    assert len(ids) == 4 and len(set(ids)) == 4
    end, grow = run["end"].task, run["grow"].task
    assert end is not None and grow is not None
    assert [p.pathspec for p in end.parent_tasks] == [grow.pathspec]
