from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh datastore root, made current through ASYNCFLOW_HOME."""
    root = tmp_path / "store"
    monkeypatch.setenv("ASYNCFLOW_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    yield root


def run_python(
    *args: str, root: Path, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the test interpreter in a subprocess against the datastore at ``root``."""
    env = {**os.environ, "ASYNCFLOW_HOME": str(root), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd or root.parent, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc
