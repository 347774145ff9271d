"""Start-up and per-task cost of whole processes, each beside its baseline in the same run.

``python -m benchmarks.startup [--repeats N] [--tasks 1000,10000]`` prints a Markdown table:
median CPU (user + system) of fresh processes, measured in interleaved rounds so a busy
machine slows every figure of a round alike; read the ratios.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import metaflow_env
from .harness import REPO, compiled_env

FANOUT = """
import os
from asyncflow import FlowSpec, step

class FanFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ["BENCH_TASKS"])))
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FanFlow()
"""


def cpu_of(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """CPU seconds (user + system) of one fresh process running ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


_MF_ENV = {**compiled_env(), **metaflow_env.env_for({})}


def _metaflow_cases(work: Path, flow: str) -> dict[str, list[str]]:
    """Metaflow's tutorial run and small read, if its environment is installed."""
    mf = metaflow_env.VENV / "bin" / "python"
    if not mf.exists():
        print("(Metaflow not installed: python -m benchmarks --only overhead installs it)")
        return {}
    script = work / "mf_artifact_flow.py"
    script.write_text(Path(flow).read_text().replace("from asyncflow ", "from metaflow "))
    run = [str(mf), str(script), "--no-pylint", "--quiet", "run"]
    subprocess.run(run, cwd=work, env=_MF_ENV, check=True, capture_output=True)
    read = ("from metaflow import Flow, namespace; namespace(None); "
            "Flow('ArtifactFlow').latest_run.data.dataset")  # fmt: skip
    return {"Metaflow: read a small artifact (fresh process)": [str(mf), "-c", read],
            "Metaflow: tutorial flow, whole process": run}  # fmt: skip


def main(argv: list[str]) -> dict[str, float]:
    """Measure and print the tables; return the median CPU seconds of each process."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--tasks", default="1000,10000", help="foreach sizes ('' for none)")
    p.add_argument(
        "--no-metaflow",
        dest="metaflow",
        action="store_false",
        help="skip Metaflow (else measured when benchmarks/.venv-metaflow exists)",
    )
    a = p.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**compiled_env(), "ASYNCFLOW_HOME": str(work / ".asyncflow")}
        flow = str(REPO / "examples" / "artifact_flow.py")
        subprocess.run([py, flow, "run"], cwd=work, env=env, check=True, capture_output=True)
        read = "from asyncflow import Flow; Flow('ArtifactFlow').latest_run.data.dataset"
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "python + sqlite3 + msgpack": [py, "-c", "import sqlite3, msgpack"],
            "import asyncflow": [py, "-c", "import asyncflow"],
            "from asyncflow import Flow": [py, "-c", "from asyncflow import Flow"],
            "read a small artifact (fresh process)": [py, "-c", read],
            "tutorial flow, whole process": [py, flow, "run"],
            # the same without the CLI's supervising parent (asyncflow/supervisor.py)
            "tutorial flow, whole process, unsupervised": [py, flow, "run"],
        }
        cases.update(_metaflow_cases(work, flow) if a.metaflow else {})
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(a.repeats):
            for name, args in cases.items():
                case_env = env if not name.startswith("Metaflow") else _MF_ENV
                if name.endswith("unsupervised"):
                    case_env = {**env, "ASYNCFLOW_SUPERVISOR": "off"}
                samples[name].append(cpu_of(args, work, case_env))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        base = medians["python -c pass"]
        print("| process | median CPU | x `python -c pass` |\n|---|---:|---:|")
        for name, m in medians.items():
            print(f"| {name} | {m:.3f} s | {m / base:.1f}x |")
        (work / "fan.py").write_text(FANOUT)
        print("\n| foreach tasks via the CLI | median CPU | per task |\n|---|---:|---:|")
        for tasks in (int(t) for t in a.tasks.split(",") if t):
            values = []
            for r in range(3):
                home = work / f"fan-{tasks}-{r}"
                fan_env = {**env, "ASYNCFLOW_HOME": str(home), "BENCH_TASKS": str(tasks)}
                values.append(cpu_of([py, "fan.py", "run", "--max-num-splits", str(tasks)],
                                     work, fan_env))  # fmt: skip
            m = statistics.median(values)
            print(f"| {tasks:,} | {m:.2f} s | {m / tasks * 1000:.3f} ms |")
    return medians


if __name__ == "__main__":
    main(sys.argv[1:])
