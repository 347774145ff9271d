"""The example plugin in examples/plugin is found through its entry point once installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"

CHECK = """
from decimal import Decimal
from fractions import Fraction
from serializers import Registry
registry = Registry()
for value in (Fraction(1, 3), Decimal("1.10")):
    encoded = registry.serialize(value)
    data = b"".join(bytes(memoryview(b)) for b in encoded.buffers)
    back = registry.deserialize(encoded.encoding, data, encoded.metadata)
    print(encoded.encoding, encoded.metadata["kind"], repr(back))
print("without plugins:", Registry(plugins=False).serialize(Fraction(1, 2)).encoding)
"""

EXPECTED = (
    "fractions/1 fraction Fraction(1, 3)\n"
    "fractions/1 decimal Decimal('1.10')\n"
    "without plugins: cloudpickle/1\n"
)


def run_python(code: str, *path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*path, ROOT))}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin pip-installed into a private directory (the test venv is left alone)."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(
        PLUGIN, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    target = work / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    subprocess.run([*install, str(source)], check=True, capture_output=True)
    return target


def test_registry_picks_up_the_installed_plugin_through_its_entry_point(site: Path) -> None:
    points = run_python(
        "from importlib.metadata import entry_points\n"
        "print(sorted((e.name, e.value) for e in entry_points(group='asyncflow.serializers')))",
        site,
    )
    assert "('fractions', 'asyncflow_fractions:FractionSerializer')" in points.stdout
    assert run_python(CHECK, site).stdout == EXPECTED


def test_plugin_passes_the_contract_kit(site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=PLUGIN,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^\d+ passed in ", out.stdout, re.MULTILINE), out.stdout


FLOW = """
from fractions import Fraction
from asyncflow import FlowSpec, step

class FractionFlow(FlowSpec):
    @step
    def start(self):
        self.third = Fraction(1, 3)
        self.next(self.end)

    @step
    def end(self):
        self.sum = self.third * 3

if __name__ == "__main__":
    FractionFlow()
"""

READ = """
from asyncflow import Run
task = Run("FractionFlow/1")["end"].task
print(task["third"].encoding, repr(task.data.third), repr(task.data.sum))
"""


def test_a_flow_stores_plugin_types_through_the_plugin(site: Path, tmp_path: Path) -> None:
    (tmp_path / "fraction_flow.py").write_text(FLOW)
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(tmp_path / "store"),
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
    }

    def python(*args: str, with_plugin: bool = True) -> subprocess.CompletedProcess[str]:
        run_env = env if with_plugin else {**env, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, env=run_env, cwd=tmp_path
        )

    ran = python("fraction_flow.py", "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert python("-c", READ).stdout == "fractions/1 Fraction(1, 3) Fraction(1, 1)\n"

    without = python("-c", READ, with_plugin=False)
    assert without.returncode == 1
    assert (
        "UnknownEncodingError: cannot deserialize artifact 'FractionFlow/1/end/2/third': "
        "no serializer for encoding 'fractions/1' is registered; install the plugin"
    ) in without.stderr
