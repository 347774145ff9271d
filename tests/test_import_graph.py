"""What importing asyncflow costs, checked structurally: which modules a statement imports.

A notebook reading one artifact pays for the client and the store only; the engine, anyio,
the serializers' libraries and entry-point scanning load when something needs them.
Measured with ``python -X importtime`` in a fresh interpreter, so nothing the test suite
has already imported hides an import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import asyncflow
from asyncflow.store import Datastore, TaskRecord

#: Never imported by reading the public names of the client.
HEAVY = {
    "anyio",
    "asyncio",
    "trio",
    "asyncflow.engine",
    "asyncflow.runner",
    "asyncflow.cli",
    "asyncflow.decorators",
    "click",
    "importlib.metadata",
    "cloudpickle",
    "msgpack",
    "pyarrow",
    "numpy",
    "pandas",
    "polars",
    "tempfile",
    "socket",
    "uuid",
}

#: A flow module defines its class without the engine: the CLI imports it when it runs.
ENGINE = {"anyio", "asyncio", "asyncflow.engine", "importlib.metadata", "cloudpickle", "pandas"}


def imported_by(statement: str) -> set[str]:
    """Every package ``statement`` imports in a fresh interpreter (``-X importtime``).

    Each module counts with all its parent packages: a package imported through
    ``importlib.import_module`` may be missing from importtime's report, its submodules not.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = re.findall(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$", done.stderr, re.M)
    parts = (module.split(".") for module in modules)
    return {".".join(p[:n]) for p in parts for n in range(1, len(p) + 1)}


def test_the_probe_sees_imports() -> None:
    # the probe itself must be able to fail: the engine does import anyio
    assert {"anyio", "asyncflow.engine"} <= imported_by("import asyncflow.engine")


@pytest.mark.parametrize(
    "statement",
    [
        "import asyncflow",
        "from asyncflow import Flow",
        "from asyncflow import Flow, Run, Step, Task, DataArtifact, namespace, Metaflow",
        "import asyncflow.client",
    ],
)
def test_the_client_imports_nothing_heavy(statement: str) -> None:
    assert sorted(imported_by(statement) & HEAVY) == []


def test_reading_an_artifact_does_not_import_the_engine(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = Datastore(root)
    record = store.metadata.create_run("ReadFlow", "me", {}, [], [])
    ref = store.persist("x", [1, 2, 3])
    store.commit_task(TaskRecord("ReadFlow", record.run_id, "end", 1, "successful"), [ref])
    store.metadata.finish_run("ReadFlow", record.run_id, "successful")
    statement = (
        f"import os; os.environ['ASYNCFLOW_HOME'] = {str(root)!r}\n"
        "from asyncflow import Flow, namespace\nnamespace(None)\n"
        "assert Flow('ReadFlow').latest_run['end'].task.data.x == [1, 2, 3]"
    )
    # decoding scans the serializer plugins' entry points once: importlib.metadata may load
    unneeded = {
        *("anyio", "asyncio", "asyncflow.engine", "asyncflow.runner", "click"),
        *("asyncflow.decorators", "ctypes", "serializers._bytes", "serializers._pickle"),
    }
    assert sorted(imported_by(statement) & (unneeded | {"cloudpickle", "pyarrow", "pandas"})) == []


def test_a_flow_module_does_not_import_the_engine() -> None:
    statement = "from asyncflow import FlowSpec, step, Parameter, current, retry, catch"
    assert sorted(imported_by(statement) & ENGINE) == []


def test_a_flow_script_s_command_line_imports_no_client_and_no_engine() -> None:
    # dump, logs, tag and card import the client when called; `run` imports the engine in
    # the supervisor's child, so the parent, which only waits, never holds it
    readers = {"asyncflow.client", "asyncflow.cli_inspect", "asyncflow.cards.cli"}
    driving = {"anyio", "asyncio", "asyncflow.engine", "asyncflow.display", "asyncflow.events"}
    assert sorted(imported_by("import asyncflow.cli") & (readers | driving)) == []


#: Never imported by a run whose tasks all run in its own process (the tutorial's).
NOT_RUN = {
    *("asyncflow.client", "asyncflow.cli_inspect", "asyncflow.cards.cli", "asyncflow.ui"),
    *("asyncflow.executors", "cloudpickle", "pickle", "importlib.metadata", "pyarrow"),
    *("asyncflow.runner", "asyncflow.store.postgres", "asyncflow.store.s3", "numpy"),
    "asyncflow.cards.decorator",
    *("decimal", "fractions"),  # asyncflow.artifacts knows their types without importing them
}
#: ... nor, unsupervised, these (the supervisor's child uses ctypes for PR_SET_PDEATHSIG).
NOT_RUN_HERE = {"serializers._copying", "ctypes"}


def test_a_tutorial_run_imports_only_what_it_runs(tmp_path: Path) -> None:
    flow = Path(__file__).parent.parent / "examples" / "artifact_flow.py"
    code = (
        "import os, sys, runpy\n"
        f"os.environ.update(ASYNCFLOW_HOME={str(tmp_path)!r}, ASYNCFLOW_SUPERVISOR='off')\n"
        f"sys.argv = [{str(flow)!r}, 'run']\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )
    modules = imported_by(code)
    assert "asyncflow.engine" in modules  # the probe sees the run's own imports
    assert sorted(modules & (NOT_RUN | NOT_RUN_HERE)) == []


def test_reading_a_name_imports_only_its_home() -> None:
    assert "asyncflow.engine" in imported_by("from asyncflow import Engine")
    assert "asyncflow.engine" not in imported_by("from asyncflow import NotFoundError")


def test_every_public_name_is_an_object_not_a_submodule() -> None:
    # A submodule named like a public name (asyncflow.current) would shadow it once imported.
    code = (
        "import importlib, pkgutil, types, asyncflow\n"
        "for m in pkgutil.walk_packages(asyncflow.__path__, 'asyncflow.'):\n"
        "    if m.name != 'asyncflow.__main__': importlib.import_module(m.name)\n"
        "print([n for n in asyncflow.__all__ "
        "if isinstance(getattr(asyncflow, n), types.ModuleType)])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'asyncflow' has no attribute 'Flw'"):
        _ = asyncflow.Flw  # type: ignore[attr-defined]
    assert {"Flow", "Engine", "FlowSpec"} <= set(dir(asyncflow))


FROZEN_PROBE = """
import gc
from asyncflow import FlowSpec, step

class ProbeFlow(FlowSpec):
    @step
    def start(self):
        from asyncflow.engine import Engine
        from asyncflow.flowspec import FlowSpec as Base
        tracked = {id(o) for o in gc.get_objects()}  # the frozen generation is not listed
        print("unfrozen:", sorted(c.__name__ for c in (Engine, Base) if id(c) in tracked))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ProbeFlow()
"""


@pytest.mark.parametrize("supervisor", ["on", "off"])
def test_a_run_freezes_what_its_imports_made(tmp_path: Path, supervisor: str) -> None:
    # collections during the run and at exit never scan the modules' objects again
    script = tmp_path / "probe.py"
    script.write_text(FROZEN_PROBE)
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(tmp_path / "home"),
        "ASYNCFLOW_SUPERVISOR": supervisor,
    }
    done = subprocess.run(
        [sys.executable, str(script), "run"], capture_output=True, text=True, env=env, check=True
    )
    assert "unfrozen: []" in done.stdout
