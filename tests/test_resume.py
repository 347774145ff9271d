"""resume: a new run that clones successful tasks by reference and re-runs the rest."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow import Engine, Flow, Run
from asyncflow.events import Event, TaskCloned, TaskFinished, TaskStarted
from asyncflow.exceptions import CorruptedBlobError, NotFoundError, ResumeError
from asyncflow.store import Datastore
from tests.flows import resumable
from tests.flows.resumable import ResumeFlow

from .conftest import REPO, run_python

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def reset_signals() -> Iterator[None]:
    resumable.signals.update(fail_items=set(), ran=[])
    yield
    resumable.signals.update(fail_items=set(), ran=[])


def _blob_files(root: Path) -> set[Path]:
    return {p for p in (root / "blobs").rglob("*") if p.is_file()}


def _steps(events: list[Event], kind: type[TaskCloned] | type[TaskFinished]) -> list[str]:
    return sorted(e.pathspec.split("/")[2] for e in events if isinstance(e, kind))


async def test_resume_clones_what_succeeded_and_reruns_the_failed_step(store_root: Path) -> None:
    resumable.signals["fail_items"] = {2}
    failed = await Engine().run(ResumeFlow, {"scale": 3})
    assert failed.status == "failed"
    origin = Run(failed.pathspec)
    done_before = {t.index for t in origin["process"] if t.successful}
    assert 2 not in done_before
    resumable.signals.update(fail_items=set(), ran=[])
    blobs_before = _blob_files(store_root)

    events: list[Event] = []
    result = await Engine(listeners=[events.append]).resume(ResumeFlow)

    assert result.successful and result.run_id != failed.run_id
    run = Run(result.pathspec)
    assert run.origin_pathspec == failed.pathspec
    assert run.data is not None
    assert run.data.total == (0 + 1 + 2 + 3) * 3  # the parameter came from the origin run
    assert run.data.origin == str(failed.run_id)
    assert _steps(events, TaskCloned) == ["process"] * len(done_before) + ["start"]
    rerun = sorted(r for r in resumable.signals["ran"] if r.startswith("process"))
    assert rerun == [f"process {i}" for i in range(4) if i not in done_before]
    assert _blob_files(store_root) == blobs_before  # cloning copies no artifact data
    start, origin_start = run["start"].task, origin["start"].task
    assert start is not None and origin_start is not None
    assert start["big"].sha == origin_start["big"].sha
    assert sorted(t.index or 0 for t in run["process"]) == [0, 1, 2, 3]


async def test_resume_from_a_step_reruns_it_and_everything_after(store_root: Path) -> None:
    first = await Engine().run(ResumeFlow, {"scale": 2})
    assert first.successful
    resumable.signals["ran"] = []
    events: list[Event] = []
    result = await Engine(listeners=[events.append]).resume(ResumeFlow, "join")
    assert result.successful
    assert resumable.signals["ran"] == ["join", "end"]
    assert _steps(events, TaskCloned) == ["process"] * 4 + ["start"]
    assert _steps(events, TaskFinished) == ["end", "join"]
    cloned = Run(result.pathspec)["process"]
    origin_tasks = {t.index: t for t in Run(first.pathspec)["process"]}
    for task in cloned:
        original = origin_tasks[task.index]
        assert task.data.out == original.data.out == task.index * 2  # type: ignore[operator]
        assert task.stdout == original.stdout
        assert task.pathspec != original.pathspec


async def test_resume_from_start_reruns_everything(store_root: Path) -> None:
    await Engine().run(ResumeFlow, {"scale": 1})
    resumable.signals["ran"] = []
    result = await Engine().resume(ResumeFlow, "start")
    assert result.successful
    assert sorted(resumable.signals["ran"]) == sorted(
        ["start", "join", "end"] + [f"process {i}" for i in range(4)]
    )


async def test_resume_takes_an_explicit_origin_run(store_root: Path) -> None:
    first = await Engine().run(ResumeFlow, {"scale": 5})
    await Engine().run(ResumeFlow, {"scale": 7})
    result = await Engine().resume(ResumeFlow, "end", origin_run_id=str(first.run_id))
    run = Run(result.pathspec)
    assert run.origin_pathspec == first.pathspec
    assert run.data is not None and run.data.total == 30
    latest = Flow("ResumeFlow").latest_run
    assert latest is not None and latest.pathspec == run.pathspec


async def test_a_resumed_run_can_itself_be_resumed(store_root: Path) -> None:
    resumable.signals["fail_items"] = {1}
    first = await Engine().run(ResumeFlow, {"scale": 1})
    second = await Engine().resume(ResumeFlow)
    assert second.status == "failed" and second.failed_pathspec is not None
    resumable.signals["fail_items"] = set()
    third = await Engine().resume(ResumeFlow)
    assert third.successful
    assert Run(third.pathspec).origin_pathspec == second.pathspec
    assert Run(second.pathspec).origin_pathspec == first.pathspec


async def test_a_normal_run_has_no_origin(store_root: Path) -> None:
    seen: list[tuple[str, bool]] = []

    def while_running(event: Event) -> None:
        if isinstance(event, TaskStarted) and not seen:
            run = Run(event.pathspec.rsplit("/", 2)[0])
            seen.append((run.status, run.crashed))

    result = await Engine(listeners=[while_running]).run(ResumeFlow, {"scale": 1})
    assert seen == [("running", False)]  # its process is alive: this one
    run = Run(result.pathspec)
    assert run.origin_pathspec is None and not run.crashed
    assert run.data is not None and run.data.origin is None


async def test_resume_from_an_unknown_step_is_refused(store_root: Path) -> None:
    await Engine().run(ResumeFlow, {"scale": 1})
    with pytest.raises(ResumeError) as info:
        await Engine().resume(ResumeFlow, "nope")
    assert info.value.message == (
        "cannot resume from step 'nope': ResumeFlow has no such step "
        "(its steps: start, process, join, end)"
    )


async def test_resume_without_any_run_is_refused(store_root: Path) -> None:
    Datastore()  # an empty store
    with pytest.raises(NotFoundError) as info:
        await Engine().resume(ResumeFlow)
    assert info.value.message == "run 'ResumeFlow/latest' does not exist; there is no run to resume"
    with pytest.raises(NotFoundError) as info:
        await Engine().resume(ResumeFlow, origin_run_id=42)
    assert info.value.message == (
        "run 'ResumeFlow/42' does not exist; there is no such run to resume"
    )


def test_the_cli_refuses_to_resume_from_an_unknown_step(store_root: Path) -> None:
    script = str(REPO / "examples" / "artifact_flow.py")
    run_python(script, "run", root=store_root, check=True)
    proc = run_python(script, "resume", "nope", root=store_root)
    assert proc.returncode == 1
    assert proc.stderr == (
        "Cannot resume:\n    cannot resume from step 'nope': ArtifactFlow has no such step "
        "(its steps: start, create_artifact, transform_artifact, end)\n"
    )
    proc = run_python(script, "resume", "transform_artifact", root=store_root, check=True)
    assert "Cloning results of a previously run task ArtifactFlow/1/create_artifact/2" in (
        proc.stdout
    )


async def test_a_store_error_while_cloning_fails_the_run_with_that_error(store_root: Path) -> None:
    resumable.signals["fail_items"] = {2}
    failed = await Engine().run(ResumeFlow)
    start = Run(failed.pathspec)["start"].task
    assert start is not None
    items = start["items"]  # inline: its bytes live in SQLite (in its row: it is small)
    with sqlite3.connect(store_root / "metadata.db") as db:
        db.execute("UPDATE artifacts SET data = x'00' WHERE key = ?", (items.sha,))

    with pytest.raises(CorruptedBlobError) as info:  # itself, not inside an exception group
        await Engine().resume(ResumeFlow)

    assert info.value.problem == f"corrupted: 1 byte on disk, {items.size} expected"
    latest = Flow("ResumeFlow").latest_run
    assert latest is not None and latest.status == "failed"
