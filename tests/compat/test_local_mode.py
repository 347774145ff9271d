"""Metaflow's local-mode command line and the flow habits its own core suite relies on.

The flow runs with the exact top-level options Metaflow's suite passes, then is read
back from another process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncflow import FlowSpec
from asyncflow.exception import (
    ExternalCommandFailed,
    MetaflowException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from asyncflow.exceptions import MissingInMergeArtifactsError, UnhandledInMergeArtifactsError

from ..conftest import run_python
from .flows.local_mode import LocalModeFlow

FLOW = Path(__file__).resolve().parent / "flows" / "local_mode.py"
TOP_OPTIONS = [
    "--metadata=local", "--datastore=local", "--environment=local",
    "--event-logger=nullSidecarLogger", "--monitor=nullSidecarMonitor", "--no-pylint", "--quiet",
]  # fmt: skip

READ_BACK = """
import json
from asyncflow import Flow, get_namespace
run = Flow("LocalModeFlow").latest_run
start, join, end = (run[s].task for s in ("start", "join", "end"))
print(json.dumps({
    "namespace": get_namespace(), "refused": start.data.refused,
    "wheres": join.data.wheres, "lineage": join.data.lineage,
    "encodings": end.data.encodings, "bytes_refused": end.data.bytes_refused,
    "names": end.data.names, "stdout": end.stdout,
}))
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("local_mode") / "store"
    env = {"METAFLOW_USER": "tester", "USER": "someone-else", "METAFLOW_RUN_GREETING": "hi"}
    proc = run_python(str(FLOW), *TOP_OPTIONS, "run", root=root, env=env, check=True)
    read = run_python("-c", READ_BACK, root=root, env=env, check=True)
    return proc.stdout + proc.stderr, json.loads(read.stdout)


def test_quiet_prints_nothing_for_a_successful_run(ran: tuple[str, dict[str, Any]]) -> None:
    output, _ = ran
    assert output == ""


def test_metaflow_user_names_the_user_and_the_default_namespace(
    ran: tuple[str, dict[str, Any]],
) -> None:
    assert ran[1]["namespace"] == "user:tester"


def test_metaflow_run_variable_gives_a_parameter_its_value(
    ran: tuple[str, dict[str, Any]],
) -> None:
    assert ran[1]["stdout"] == "greeting=hi limit=3\n"


def test_assigning_a_parameter_or_class_constant_raises_attribute_error(
    ran: tuple[str, dict[str, Any]],
) -> None:
    assert ran[1]["refused"] == [
        "greeting: 'greeting' is a Parameter and cannot be assigned in step 'start'; "
        "use another name",
        "LIMIT: 'LIMIT' is a constant of the flow class and cannot be assigned in step "
        "'start'; use another name",
    ]


def test_private_step_attributes_name_the_step_and_its_foreach(
    ran: tuple[str, dict[str, Any]],
) -> None:
    assert ran[1]["lineage"] == ["start", "each", "join"]
    assert ran[1]["wheres"] == [["start", "items", 0, 2], ["start", "items", 1, 2]]


def test_task_streams_have_an_encoding_and_refuse_bytes(
    ran: tuple[str, dict[str, Any]],
) -> None:
    assert ran[1]["encodings"] == ["utf-8", "utf-8"]
    assert ran[1]["bytes_refused"] == "write() argument must be str, not bytes"


def test_metaflow_exception_names(ran: tuple[str, dict[str, Any]]) -> None:
    assert ran[1]["names"] == ["External command failed", True]
    assert issubclass(ExternalCommandFailed, MetaflowException)
    assert MissingInMergeArtifactsException is MissingInMergeArtifactsError
    assert UnhandledInMergeArtifactsException is UnhandledInMergeArtifactsError
    assert str(MetaflowException()) == ""  # Metaflow's takes no message too


def test_iterating_a_flow_gives_its_steps_with_their_graph_types() -> None:
    flow: FlowSpec = LocalModeFlow(use_cli=False)
    steps = list(flow)
    assert [s.name for s in steps] == ["start", "each", "join", "end"]
    assert [flow._graph[s.name].type for s in steps] == ["foreach", "linear", "join", "end"]


def test_an_unknown_event_logger_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_python(str(FLOW), "--event-logger=kafka", "run", root=tmp_path / "store")
    assert proc.returncode == 2
    assert "Invalid value for '--event-logger'" in proc.stderr
