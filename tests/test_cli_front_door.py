"""What a new user meets first on the command line: --version, listing flows, help,
crashed runs, malformed pathspecs, and the wording of counts."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow import Run
from asyncflow.decorators import TimeoutSpec
from asyncflow.wording import a_type, plural

from .conftest import REPO, run_python

FAN = str(REPO / "tests" / "flows" / "fan_script.py")
PIPE = str(REPO / "tests" / "flows" / "pipe_script.py")
VERSION = importlib.metadata.version("asyncflow")


def _console(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "asyncflow", *args, root=root)


@pytest.fixture(scope="module")
def fan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two FanFlow runs."""
    root = tmp_path_factory.mktemp("door") / "store"
    run_python(FAN, "run", root=root, check=True)
    run_python(FAN, "run", root=root, check=True)
    return root


def test_version_of_both_commands(fan_root: Path) -> None:
    console = _console("--version", root=fan_root)
    assert (console.returncode, console.stdout) == (0, f"asyncflow {VERSION}\n")
    flow = run_python(FAN, "--version", root=fan_root)
    assert (flow.returncode, flow.stdout) == (0, f"{FAN}: asyncflow {VERSION}\n")


def test_flows_and_runs_without_a_flow_list_the_flows(fan_root: Path) -> None:
    flows = _console("flows", root=fan_root)
    assert flows.returncode == 0, flows.stderr
    header, row = flows.stdout.splitlines()
    assert header.split() == ["FLOW", "RUNS", "LATEST", "STATUS", "STARTED"]
    assert row.split()[:4] == ["FanFlow", "2", "2", "successful"]
    assert _console("runs", root=fan_root).stdout == flows.stdout


def test_flows_in_a_place_no_flow_ran(tmp_path: Path) -> None:
    proc = _console("flows", root=tmp_path / "empty")
    assert proc.returncode == 1
    assert "no flow has run here yet" in proc.stderr


@pytest.mark.parametrize(
    "command",
    [["-m", "asyncflow"], [FAN]],
    ids=["asyncflow", "flow.py"],
)
def test_help_command_is_the_help_option(fan_root: Path, command: list[str]) -> None:
    top = run_python(*command, "help", root=fan_root)
    assert (
        top.returncode == 0 and top.stdout == run_python(*command, "--help", root=fan_root).stdout
    )
    assert "help" in top.stdout and "Show the help" in top.stdout
    sub = run_python(*command, "help", "show", root=fan_root)
    assert sub.returncode == 0
    assert sub.stdout == run_python(*command, "show", "--help", root=fan_root).stdout
    unknown = run_python(*command, "help", "nope", root=fan_root)
    assert unknown.returncode == 2 and "no such command 'nope'" in unknown.stderr


def test_help_reaches_subcommands_of_groups(fan_root: Path) -> None:
    proc = run_python(FAN, "help", "tag", "add", root=fan_root)
    assert proc.returncode == 0
    assert proc.stdout == run_python(FAN, "tag", "add", "--help", root=fan_root).stdout


def test_a_killed_run_shows_as_crashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    monkeypatch.setenv("ASYNCFLOW_FAULT_INJECT", "commit-task@2")  # SIGKILL mid-run
    assert run_python(FAN, "run", root=root).returncode == -signal.SIGKILL
    monkeypatch.delenv("ASYNCFLOW_FAULT_INJECT")
    runs = _console("runs", "FanFlow", root=root)
    assert runs.stdout.splitlines()[1].split()[:2] == ["1", "crashed"]
    run = _console("show", "FanFlow/1", root=root)
    assert "    status:      crashed" in run.stdout.splitlines()
    flow = _console("show", "FanFlow", root=root)
    assert flow.stdout.splitlines()[1].split()[:2] == ["FanFlow/1", "crashed"]


def test_show_flow_aligns_the_status_column(fan_root: Path, tmp_path: Path) -> None:
    lines = _console("show", "FanFlow", root=fan_root).stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "STARTED"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1
    assert len({line.index(line.split()[2]) for line in lines}) == 1


@pytest.mark.parametrize(
    "pathspec, problem",
    [
        ("F//3", "its RUN_ID part is empty"),
        ("F/../../x", "its RUN_ID '..' is not a number"),
        ("", "it is empty"),
        ("F/1/start/1/x/y", "it has 6 parts, not 5"),
        ("/F", "its FLOW part is empty"),
    ],
)
def test_malformed_pathspec_is_a_usage_error(fan_root: Path, pathspec: str, problem: str) -> None:
    proc = _console("show", pathspec, root=fan_root)
    assert proc.returncode == 2
    assert "Usage: asyncflow show" in proc.stderr
    assert problem in proc.stderr
    assert "A pathspec is FLOW/RUN_ID/STEP/TASK_ID/ARTIFACT" in proc.stderr


@pytest.mark.parametrize("command", ["dump", "logs"])
def test_dump_of_a_run_says_what_it_takes(fan_root: Path, command: str) -> None:
    proc = run_python(FAN, command, "1", root=fan_root)
    assert proc.returncode == 2
    assert "'1' is not a pathspec: it has 1 part after the flow name" in proc.stderr
    assert "Give RUN_ID/STEP (every task of the step) or RUN_ID/STEP/TASK_ID" in proc.stderr
    assert "does not exist" not in proc.stderr


def test_gc_dry_run_says_would_remove(fan_root: Path) -> None:
    proc = _console("gc", "--dry-run", root=fan_root)
    assert proc.returncode == 0
    first = proc.stdout.splitlines()[0]
    assert first.startswith("would remove 0 blobs (0 bytes); kept 0 unreferenced blobs")
    assert "removed 0 inline values" not in proc.stdout


def test_verify_counts_blobs_and_inline_values_apart(fan_root: Path) -> None:
    proc = _console("verify", root=fan_root)
    assert proc.returncode == 0
    blobs, inline = map(int, proc.stdout.split()[1::3][:2])
    assert (
        proc.stdout == f"checked {plural(blobs, 'blob')} and {inline} inline values: 0 problems\n"
    )
    assert blobs >= 1 and inline > blobs  # FanFlow stores one large value


def test_show_max_value_size_has_help(fan_root: Path) -> None:
    proc = _console("show", "--help", root=fan_root)
    assert "Characters of an artifact's value to print" in proc.stdout


def test_plural_and_article() -> None:
    assert [plural(n, "byte") for n in (0, 1, 2)] == ["0 bytes", "1 byte", "2 bytes"]
    assert plural(1, "match", "matches") + plural(2, "match", "matches") == "1 match2 matches"
    assert [a_type(v) for v in (1, [], object())] == ["an int", "a list", "an object"]
    limits = [TimeoutSpec(seconds).describe() for seconds in (1, 2, 0.5)]
    assert limits == ["1 second", "2 seconds", "0.5 seconds"]  # "timed out after 1 second"


@pytest.mark.parametrize("display", ["plain", "live"])
def test_a_closed_stdout_does_not_fail_the_run(tmp_path: Path, display: str) -> None:
    """``python flow.py run | head -2``: the reader goes away, the run goes on to the end."""
    root, go = tmp_path / "store", tmp_path / "go"
    env = {**os.environ, "ASYNCFLOW_HOME": str(root), "PYTHONPATH": str(REPO)}
    env |= {"PIPE_FLOW_GO": str(go), "ASYNCFLOW_DISPLAY": display}
    proc = subprocess.Popen(
        [sys.executable, PIPE, "run"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("asyncflow executing PipeFlow")
    proc.stdout.close()  # as `head` exits: every later write meets a broken pipe
    go.touch()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert stderr == (
        "stdout was closed before the end; run PipeFlow/1 went on and is successful "
        "(`logs` shows its tasks' output).\n"
    )
    run = Run("PipeFlow/1", root=root)
    assert run.successful and run.data is not None and run.data.total == sum(range(20))
    assert [len(list(run[step])) for step in ("start", "each", "join", "end")] == [1, 20, 1, 1]


def test_quiet_prints_only_the_failure(tmp_path: Path) -> None:
    script = str(REPO / "tests" / "flows" / "failing_script.py")
    proc = run_python(script, "--quiet", "run", root=tmp_path / "store")
    assert proc.returncode == 1
    said = [line.split(" ", 2)[2] for line in proc.stdout.splitlines()]
    assert said[0] == "[1/boom/2] Traceback (most recent call last):"
    assert said[-2:] == ["[1/boom/2] KeyError: 'missing-key'", "[1/boom/2] Task failed."]
    assert not [line for line in said if "starting" in line or "about to fail" in line]
    assert proc.stderr == "Run BrokenAtRuntimeFlow/1 failed in BrokenAtRuntimeFlow/1/boom/2.\n"
