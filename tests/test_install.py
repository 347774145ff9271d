"""The README's Installation section, followed as a new user would: a fresh copy of the
repository, the README's own commands in a new shell outside it, then the tutorial flow
and the client from that environment alone (no checkout on the path); and
scripts/bootstrap rebuilding a .venv made with another Python."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.docs_examples import Block, blocks_of

README = REPO / "README.md"
CHECKOUT_PLACEHOLDER = "/path/to/asyncflow"
VERSION = importlib.metadata.version("asyncflow")


def _fresh_shell_env() -> dict[str, str]:
    """The environment of a new shell: nothing of this test run's interpreter, venv or store."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ASYNCFLOW_", "METAFLOW_", "PYTEST", "COV_"))
        and key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    ours = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    path = [part for part in env.get("PATH", "").split(os.pathsep) if part not in ours]
    return env | {"PATH": os.pathsep.join(path)}


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip


def _readme_block(has: str = "", *, title: str | None = None) -> Block:
    """The README's one block containing ``has`` (a file's: titled ``title``)."""
    (block,) = [b for b in blocks_of(README) if b.title == title and has in b.code]
    return block


def _fresh_clone(into: Path) -> Path:
    """The repository's files as a clone would have them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
        capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, into / name)
    return into


@pytest.mark.slow
def test_readme_installation_then_the_first_flow_in_a_new_shell(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the repository's git checkout to copy")
    checkout = _fresh_clone(tmp_path / "asyncflow")
    project = tmp_path / "project"
    project.mkdir()
    env = _fresh_shell_env() | {"PIP_VERBOSE": "1"}  # shows the build backend's warnings

    install = _readme_block("pip install " + CHECKOUT_PLACEHOLDER).code
    proc = _bash(install.replace(CHECKOUT_PLACEHOLDER, str(checkout)), project, env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    output = proc.stdout + proc.stderr
    deprecated = [line for line in output.splitlines() if "is deprecated" in line]
    assert deprecated == [], "the build warns"  # e.g. project.license as a TOML table

    (wheel,) = (project / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "License-Expression: Apache-2.0" in metadata.decode().splitlines()
    info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
    for shipped in (f"{info}/licenses/LICENSE", "asyncflow/py.typed"):
        assert shipped in names
    assert {"asyncflow/ui/static/ui.css", "asyncflow/ui/static/ui.js"} <= names  # asyncflow ui

    flow = _readme_block(title="artifact_flow.py")
    (project / "artifact_flow.py").write_text(flow.code)
    first_flow = _readme_block("python artifact_flow.py run").code
    client = _readme_block('Flow("ArtifactFlow").latest_run').code
    script = (
        f"source .venv/bin/activate\n{first_flow}\nasyncflow runs ArtifactFlow\n"
        f"asyncflow --version\npython - <<'EOF'\n{client}\nprint(run.data.dataset)\nEOF\n"
    )
    proc = _bash(script, project, _fresh_shell_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert " Done!\n" in proc.stdout and "The graph looks good!" in lines, proc.stdout
    runs = lines.index(next(line for line in lines if line.startswith("RUN  STATUS")))
    assert lines[runs + 1].split()[:2] == ["1", "successful"]
    assert lines[runs + 2 :] == [f"asyncflow {VERSION}", "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"]
    assert (project / ".asyncflow").is_dir()  # the store is the project's own


FAKE_OTHER_PYTHON = """#!/bin/sh
echo /opt/another-python 3.9.0
"""


@pytest.mark.slow
def test_bootstrap_rebuilds_a_venv_made_with_another_python(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "bootstrap", tmp_path / "scripts" / "bootstrap")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "probe"\nversion = "0"\n[project.optional-dependencies]\ntest = []\n'
        "[tool.setuptools]\npy-modules = []\n"
    )
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_OTHER_PYTHON)
    fake.chmod(0o755)
    env = _fresh_shell_env() | {"PYTHON": sys.executable}
    which = "import sys; print(sys.base_prefix, sys.version)"
    want = subprocess.run([sys.executable, "-c", which], capture_output=True, text=True).stdout

    proc = _bash("scripts/bootstrap", tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "scripts/bootstrap: .venv was made with another Python; "
        f"rebuilding it with {sys.executable}"
    )
    rebuilt = subprocess.run([str(fake), "-c", which], capture_output=True, text=True).stdout
    assert rebuilt == want

    (tmp_path / ".venv" / "kept").touch()  # made with the same Python: kept as it is
    again = _bash("scripts/bootstrap", tmp_path, env)
    assert (again.returncode, again.stderr) == (0, "")
    assert (tmp_path / ".venv" / "kept").exists()
