"""The client as Metaflow's gives it: parents, metadata, origins, exceptions, log lines,
missing items as KeyError; and the CLI's dump --file, logs --stderr, tag list --flat."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow import Engine, Flow, Run
from asyncflow.decorators import ExceptionWrapper
from asyncflow.exceptions import NotFoundError
from tests.flows import resumable
from tests.flows.linear import FailingFlow
from tests.flows.resumable import ResumeFlow

from .conftest import REPO, run_python

pytestmark = pytest.mark.anyio

FAN = str(REPO / "tests" / "flows" / "fan_script.py")


@pytest.fixture(autouse=True)
def reset_signals() -> Iterator[None]:
    resumable.signals.update(fail_items=set(), ran=[])
    yield
    resumable.signals.update(fail_items=set(), ran=[])


async def test_each_object_knows_its_parent(store_root: Path) -> None:
    result = await Engine().run(ResumeFlow)
    run = Run(result.pathspec)
    task = run["join"].task
    assert task is not None
    assert task.parent == run["join"]
    assert task.parent.parent == run
    assert run.parent == Flow("ResumeFlow")
    assert run.parent.parent is None
    assert [s.id for s in run["join"].parent_steps] == ["process"]
    assert [s.id for s in run["process"].child_steps] == ["join"]
    assert sorted(task.parent_task_pathspecs) == sorted(t.pathspec for t in run["process"])
    start = run["start"].task
    assert start is not None
    assert start.child_task_pathspecs == [t.pathspec for t in run["process"]]


async def test_a_missing_item_is_a_key_error_naming_it(store_root: Path) -> None:
    result = await Engine().run(ResumeFlow)
    run = Run(result.pathspec)
    start = run["start"].task
    assert start is not None
    with pytest.raises(KeyError) as missing:
        start["nope"]
    assert isinstance(missing.value, NotFoundError)
    assert str(missing.value) == f"artifact '{start.pathspec}/nope' does not exist"
    with pytest.raises(KeyError, match="step 'ResumeFlow/1/nope' does not exist"):
        run["nope"]


async def test_a_failed_tasks_exception_is_an_exception_object(store_root: Path) -> None:
    result = await Engine().run(FailingFlow)
    run = Run(result.pathspec)
    failed = run["explode"].task
    assert failed is not None
    error = failed.exception
    assert isinstance(error, ExceptionWrapper)
    assert (error.type, error.exception) == ("builtins.ValueError", "the answer is not 42")
    assert str(error) == error.stacktrace
    assert error.stacktrace.startswith("Traceback (most recent call last):")
    assert 'raise ValueError("the answer is not 42")' in error.stacktrace
    start = run["start"].task
    assert start is not None and start.exception is None


def test_a_traceback_gives_the_type_with_its_module() -> None:
    chained = (
        "Traceback (most recent call last):\n"
        '  File "flow.py", line 3, in start\n'
        "    raise ResumeFromHere()\n"
        "metaflow_test.ResumeFromHere: not an error\n"
        "  and a second line\n"
    )
    error = ExceptionWrapper.from_traceback(chained)
    assert error.type == "metaflow_test.ResumeFromHere"
    assert error.exception == "not an error\n  and a second line"
    assert ExceptionWrapper.from_traceback("KeyError: 'x'\n").type == "builtins.KeyError"
    assert ExceptionWrapper.from_traceback("Boom: no\n").type == "__main__.Boom"


async def test_metadata_records_attempts_and_a_resumed_runs_origins(store_root: Path) -> None:
    resumable.signals["fail_items"] = {2}
    failed = await Engine().run(ResumeFlow)
    resumable.signals["fail_items"] = set()
    result = await Engine().resume(ResumeFlow)
    origin, run = Run(failed.pathspec), Run(result.pathspec)
    start = run["start"].task
    assert start is not None
    assert start.metadata_dict["origin-run-id"] == str(failed.run_id)
    origin_start = origin["start"].task
    assert origin_start is not None
    assert start.metadata_dict["origin-task-id"] == origin_start.id
    assert start.origin_pathspec == origin_start.pathspec
    assert run["start"].origin_pathspec == f"{origin.pathspec}/start"
    rerun = next(t for t in run["process"] if t.index == 2)
    cloned = [t for t in run["process"] if t.index != 2]  # listed in bulk, not one by one
    assert cloned and all(t.origin_pathspec is not None for t in cloned)
    assert "origin-task-id" not in rerun.metadata_dict and rerun.origin_pathspec is None
    assert rerun.metadata_dict["origin-run-id"] == str(failed.run_id)
    assert [(m.name, m.value, m.type) for m in rerun.metadata if m.name.startswith("attempt")] == [
        ("attempt", "0", "attempt"),
        ("attempt_ok", "True", "internal_attempt_status"),
    ]
    assert all(m.task == rerun for m in rerun.metadata)
    assert "origin-run-id" not in origin_start.metadata_dict


async def test_loglines_gives_each_line_with_a_time(store_root: Path) -> None:
    result = await Engine().run(FailingFlow)
    failed = Run(result.pathspec)["explode"].task
    assert failed is not None
    lines = list(failed.loglines("stderr"))
    assert [line for _, line in lines] == failed.stderr.splitlines()
    assert {when for when, _ in lines} == {failed.finished_at}
    with pytest.raises(ValueError, match="stream must be 'stdout' or 'stderr', not 'both'"):
        list(failed.loglines("both"))


@pytest.fixture(scope="module")
def fan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fan") / "store"
    run_python(FAN, "run", "--tag", "nightly", root=root, check=True)
    return root


def test_dump_file_pickles_the_values_of_each_task(fan_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "values.pkl"
    proc = run_python(
        FAN, "dump", "--private", "--include", "item", "--file", str(out), "1/each", root=fan_root
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    values = pickle.loads(out.read_bytes())
    assert sorted(v["item"] for v in values.values()) == ["A", "B", "C"]
    assert all(key.startswith("1/each/") for key in values)  # Metaflow's keys: no flow name


def test_logs_of_one_stream_go_to_stdout(fan_root: Path) -> None:
    proc = run_python(FAN, "logs", "--stdout", "1/start", root=fan_root)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "starting\n", "")


def test_tag_list_flat_prints_one_tag_a_line(fan_root: Path) -> None:
    proc = run_python(
        FAN, "tag", "list", "--flat", "--hide-system-tags", "--run-id", "1", root=fan_root
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["Tags of 1 run:", "nightly"]
    everything = run_python(FAN, "tag", "list", "--flat", "--run-id", "1", root=fan_root)
    assert "runtime:asyncflow" in everything.stderr.splitlines()


def test_dump_shows_private_artifacts_only_with_private(tmp_path: Path) -> None:
    script, root = str(REPO / "tests" / "flows" / "private_script.py"), tmp_path / "store"
    run_python(script, "run", root=root, check=True)
    plain = run_python(script, "dump", "1/start", root=root)
    assert plain.returncode == 0, plain.stderr
    assert "shown" in plain.stdout and "_note" not in plain.stdout
    private = run_python(script, "dump", "--private", "1/start", root=root)
    assert "_note" in private.stdout and "'private'" in private.stdout
