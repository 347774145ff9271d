"""``@project``: branches from --branch / --production / $METAFLOW_BRANCH, what ``current``
reports in steps and in Parameter defaults, the run's project tags, bad names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, Flow, FlowSpec, RunResult, current, project, step
from asyncflow.engine import current_user
from asyncflow.exceptions import FlowDefinitionError, NotFoundError

from .conftest import run_python

SCRIPT = Path(__file__).parent / "flows" / "project_script.py"


@project(name="shop", branch="cart")
class BranchDefaultFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.branch = current.branch_name
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def _facts(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[Any, Any, Any, list[str]]:
    run_python(str(SCRIPT), *args, "run", root=root, check=True, env=env)
    run = Flow("ProjectScriptFlow").latest_run
    assert run is not None and run.data is not None
    return run.data.facts, run.data.seen_at_start, run.data.end_branch, sorted(run.system_tags)


def _data(result: RunResult) -> Any:
    data = result.run.data
    assert data is not None
    return data


def _project_tags(tags: list[str]) -> list[str]:
    return [t for t in tags if t.startswith("project")]


def test_a_run_is_on_its_users_branch_by_default(store_root: Path) -> None:
    user = current_user()
    facts, seen, end_branch, tags = _facts(store_root)
    assert facts == ("shop", f"user.{user}", f"shop.user.{user}.ProjectScriptFlow", False, True)
    assert seen == f"shop:user.{user}"  # Parameter defaults see the project already
    assert end_branch == f"user.{user}"
    assert _project_tags(tags) == ["project:shop", f"project_branch:user.{user}"]


@pytest.mark.parametrize(
    ("args", "env", "branch", "production"),
    [
        (["--branch", "feature_1"], {}, "test.feature_1", False),
        ([], {"METAFLOW_BRANCH": "feature_2"}, "test.feature_2", False),
        (["--production"], {}, "prod", True),
        ([], {"METAFLOW_PRODUCTION": "True"}, "prod", True),
        (["--production", "--branch", "hotfix"], {}, "prod.hotfix", True),
    ],
)
def test_branch_and_production_from_the_command_line_or_environment(
    store_root: Path, args: list[str], env: dict[str, str], branch: str, production: bool
) -> None:
    facts, seen, end_branch, tags = _facts(store_root, *args, env=env)
    assert facts == ("shop", branch, f"shop.{branch}.ProjectScriptFlow", production, False)
    assert (seen, end_branch) == (f"shop:{branch}", branch)
    assert _project_tags(tags) == ["project:shop", f"project_branch:{branch}"]


def test_a_bad_branch_name_is_a_clear_error(store_root: Path) -> None:
    proc = run_python(str(SCRIPT), "--branch", "Bad-Name", "run", root=store_root)
    assert proc.returncode == 1
    assert "the branch name 'Bad-Name' may contain only lowercase letters" in proc.stderr
    with pytest.raises(NotFoundError):  # refused before the run was recorded
        Flow("ProjectScriptFlow")


@pytest.mark.anyio
async def test_the_decorators_branch_is_a_default_the_caller_overrides(store_root: Path) -> None:
    first = await Engine().run(BranchDefaultFlow)
    assert _data(first).branch == "test.cart"
    second = await Engine().run(BranchDefaultFlow, branch="other", production=True)
    assert _data(second).branch == "prod.other"
    assert "project_branch:prod.other" in second.run.system_tags


@pytest.mark.anyio
async def test_a_resumed_run_keeps_a_project_branch(store_root: Path) -> None:
    await Engine().run(BranchDefaultFlow)
    resumed = await Engine().resume(BranchDefaultFlow, "start", branch="again")
    assert resumed.successful, resumed.traceback
    assert _data(resumed).branch == "test.again"


def test_outside_a_project_current_reports_none() -> None:
    assert (current.project_name, current.branch_name, current.project_flow_name) == (None,) * 3
    assert (current.is_production, current.is_user_branch) == (False, False)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Shop", "@project name 'Shop' may contain only lowercase letters, digits and underscores"),
        ("", "@project name is empty; try @project(name='some_name')"),
        ("x" * 129, "is longer than 128 characters"),
    ],
)
def test_bad_project_names_are_refused_at_the_decorator(name: str, message: str) -> None:
    with pytest.raises(FlowDefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        project(name=name)
