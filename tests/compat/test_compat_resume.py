"""`python flow.py resume` after a failure that a file controls, as in Metaflow's tutorial."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import run_python

FLOW = Path(__file__).resolve().parent / "flows" / "gated.py"

READ_BACK = """
import json, sys
from asyncflow import Flow, Run
runs = Flow("GatedFlow").runs()
out = {}
for run in runs:
    data = run.data
    out[run.id] = {
        "successful": run.successful,
        "origin": run.origin_pathspec,
        "steps": sorted(step.id for step in run),
        "data": None if data is None else [
            data.total, data.start_origin, data.gate_origin, data.gate, data.numbers
        ],
        "failed": run.failed_pathspec,
    }
print(json.dumps(out))
"""


def test_resume_after_fixing_the_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (tmp_path / "gate.txt").write_text("closed\n")
    failed = run_python(str(FLOW), "run", root=root)
    assert failed.returncode == 1
    assert "RuntimeError: the gate is closed" in failed.stdout

    (tmp_path / "gate.txt").write_text("open\n")
    resumed = run_python(str(FLOW), "resume", root=root, check=True)
    assert "total=6" in resumed.stdout
    again = run_python(
        str(FLOW), "resume", "check_gate", "--origin-run-id", "1", root=root, check=True
    )  # re-run from a step of an older run
    assert "total=6" in again.stdout

    out = json.loads(run_python("-c", READ_BACK, root=root, check=True).stdout)
    assert out["1"] == {
        "successful": False,
        "origin": None,
        "steps": ["check_gate", "start"],
        "data": None,  # the run never reached its end
        "failed": out["1"]["failed"],
    }
    assert out["1"]["failed"].startswith("GatedFlow/1/check_gate/")
    for run_id in ("2", "3"):
        assert out[run_id] == {
            "successful": True,
            "origin": "GatedFlow/1",
            "steps": ["check_gate", "end", "start"],
            # start was cloned from run 1, where there was no origin yet
            "data": [6, None, "1", "gate.txt", [0, 1, 2, 3]],
            "failed": None,
        }
