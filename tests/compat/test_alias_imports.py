"""Steps that import asyncflow's Metaflow-named modules through an alias package, from
many threads at once, all see the real modules.

CPython hands a thread that imports a module while another thread loads it the object
that was in ``sys.modules`` when it looked, so an alias loader's placeholder reaches it
("cannot import name 'current' from 'metaflow.metaflow_current' (unknown location)").
Without the engine loading those modules up front this failed 7 runs in 10.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import run_python

FLOW = Path(__file__).resolve().parent / "flows" / "aliased.py"
READ_BACK = """
import json
from asyncflow import Flow
print(json.dumps(Flow("AliasedFlow").latest_run["join"].task.data.seen_by_all))
"""
#: Fresh processes, since a module loads once per process; each one a race of 16 threads.
RUNS = 6


def test_sixteen_threads_importing_through_an_alias_all_get_the_real_modules(
    tmp_path: Path,
) -> None:
    for n in range(RUNS):
        root = tmp_path / f"store{n}"
        proc = run_python(str(FLOW), "run", root=root)
        assert proc.returncode == 0, f"run {n}:\n{proc.stdout}\n{proc.stderr}"
        read = run_python("-c", READ_BACK, root=root, check=True)
        assert json.loads(read.stdout) == [["inner", True]]
