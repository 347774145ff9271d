"""Failures of the user's flow are told at the user's code, with what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncflow import Engine, Run

from .flows import messages
from .flows.messages import JoinReadsBranchFlow, JoinReadsForeachFlow, UnserializableFlow

pytestmark = pytest.mark.anyio

FILE = str(Path(messages.__file__))


def line_of(tag: str) -> int:
    lines = Path(FILE).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.endswith(f"# L:{tag}"))


async def test_an_unserializable_artifact_is_shown_at_the_line_that_assigned_it(
    store_root: Path,
) -> None:
    result = await Engine().run(UnserializableFlow)
    assert result.status == "failed"
    assert result.traceback == (
        "Artifact 'lock' is assigned in step 'start' at:\n"
        f'  File "{FILE}", line {line_of("lock")}, in start\n'
        "    self.lock = threading.Lock()  # L:lock\n"
        "serializers.errors.UnserializableError: cannot serialize artifact 'lock' in step "
        "'start': no serializer accepts a value of type '_thread.lock' (cloudpickle/1: "
        "TypeError: cannot pickle '_thread.lock' object)\n"
    )
    task = Run(result.pathspec)["start"].task
    assert task is not None and task.exception is not None
    assert task.exception.stacktrace == result.traceback
    assert "fine" not in result.traceback


@pytest.mark.parametrize(
    ("flow", "name", "hint"),
    [
        (JoinReadsBranchFlow, "x", "inputs.a.x"),
        (JoinReadsBranchFlow, "base", "inputs.a.base or inputs.b.base"),
        (JoinReadsForeachFlow, "square", "[i.square for i in inputs]"),
    ],
    ids=["branch", "inherited-by-both", "foreach"],
)
async def test_a_join_reading_what_it_does_not_inherit_is_told_how_to_read_it(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, flow: type, name: str, hint: str
) -> None:
    if flow is JoinReadsBranchFlow:
        monkeypatch.setattr(JoinReadsBranchFlow, "wanted", name)
    result = await Engine().run(flow)
    assert result.failed_pathspec is not None and "/join/" in result.failed_pathspec
    assert str(result.exception) == (
        f"flow {flow.__name__} has no attribute or artifact '{name}': step 'join' is a join, "
        "and a join does not inherit its inputs' artifacts; read it from the inputs "
        f"({hint}) or call self.merge_artifacts(inputs) first"
    )
