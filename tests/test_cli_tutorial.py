"""The tutorial flow through the real CLI, read back from another process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import REPO, run_python

READ_BACK = """
import json, sys
from asyncflow import Flow
run = Flow(sys.argv[1]).latest_run
out = {"pathspec": run.pathspec, "successful": run.successful, "data": {}, "steps": {}}
for name in ("dataset", "metadata_description"):
    out["data"][name] = [getattr(run.data, name), run.end_task[name].encoding]
for step in ("create_artifact", "transform_artifact"):
    task = run[step].task
    out["steps"][step] = {a.id: [a.data, a.encoding] for a in task.artifacts}
print(json.dumps(out))
"""

EXPECTED_FINAL = [[10, 20, 30], [40, 50, 60], [70, 80, 90]]


@pytest.mark.parametrize(
    ("script", "flow"),
    [("artifact_flow.py", "ArtifactFlow"), ("async_artifact_flow.py", "AsyncArtifactFlow")],
)
def test_tutorial_flow_runs_and_reads_back(tmp_path: Path, script: str, flow: str) -> None:
    root = tmp_path / "store"
    proc = run_python(str(REPO / "examples" / script), "run", root=root, check=True)
    lines = proc.stdout.splitlines()
    for step, task in [("start", 1), ("create_artifact", 2), ("transform_artifact", 3), ("end", 4)]:
        assert any(line.endswith(f"[1/{step}/{task}] Task is starting.") for line in lines)
        assert any(
            line.endswith(f"[1/{step}/{task}] Task finished successfully.") for line in lines
        )
    assert any(
        line.endswith(f"[1/end/4] Artifact is in state `transformed` with values {EXPECTED_FINAL}")
        for line in lines
    )

    read = run_python("-c", READ_BACK, flow, root=root, check=True)
    out = json.loads(read.stdout)
    assert out["pathspec"] == f"{flow}/1"
    assert out["successful"] is True
    assert out["data"] == {
        "dataset": [EXPECTED_FINAL, "msgpack/1"],
        "metadata_description": ["transformed", "msgpack/1"],
    }
    assert out["steps"] == {
        "create_artifact": {
            "dataset": [[[1, 2, 3], [4, 5, 6], [7, 8, 9]], "msgpack/1"],
            "metadata_description": ["created", "msgpack/1"],
        },
        "transform_artifact": {
            "dataset": [EXPECTED_FINAL, "msgpack/1"],
            "metadata_description": ["transformed", "msgpack/1"],
        },
    }


def test_failing_flow_exits_nonzero_with_the_users_traceback(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = REPO / "tests" / "flows" / "failing_script.py"
    proc = run_python(str(script), "run", root=root)
    assert proc.returncode == 1
    assert "[1/boom/2] about to fail" in proc.stdout
    assert re.search(r"\[1/boom/2\] KeyError: 'missing-key'", proc.stdout)
    assert re.search(r"\[1/boom/2\]\s+File \".*failing_script.py\", line 13, in boom", proc.stdout)
    assert "asyncflow/engine" not in proc.stdout  # the user's frames, not ours
    assert "Run BrokenAtRuntimeFlow/1 failed in BrokenAtRuntimeFlow/1/boom/2." in proc.stderr

    read = run_python(
        "-c",
        "from asyncflow import Run; r = Run('BrokenAtRuntimeFlow/1'); "
        "print(r.successful, r.finished, r['start'].task.data.kept)",
        root=root,
        check=True,
    )
    assert read.stdout.split() == ["False", "True", "yes"]


def test_reading_a_missing_flow_names_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_python(str(REPO / "examples" / "artifact_flow.py"), "run", root=root, check=True)
    proc = run_python("-c", "from asyncflow import Flow; Flow('NoSuchFlow')", root=root)
    assert proc.returncode == 1
    assert "asyncflow.exceptions.NotFoundError: flow 'NoSuchFlow' does not exist" in proc.stderr
