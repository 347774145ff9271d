"""Per-task cost at scale: a trivial foreach through the CLI, 1,000 to 100,000 tasks.

``python -m benchmarks.scale [--tasks 1000,10000] [--repeats 3] [--big]`` prints a
Markdown table. Each run is a whole fresh process (``python fan.py run``) whose CPU
time (user + system) and peak RSS come from ``wait4``; a foreach of one task in the
same rounds is the fixed cost (interpreter, imports, run set-up) subtracted to give the
cost per task. ``--big`` adds one run of 100,000 tasks. After each size, a fresh
process lists the foreach step's tasks through the client (``Step.tasks()``) and
reports the wall and CPU time of that call alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import compiled_env

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
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FanFlow()
"""

LIST_TASKS = """
import json, sys, time
from asyncflow import Flow
run = Flow("FanFlow").latest_run
t0, c0 = time.perf_counter(), time.process_time()
tasks = run["work"].tasks()
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
assert run.data.total == sum(range(len(tasks))), "the join saw every task"
json.dump({"list_s": elapsed, "list_cpu_s": cpu, "tasks": len(tasks)}, sys.stdout)
"""


@dataclass
class Sample:
    """One whole process: wall and CPU seconds, peak RSS in MiB."""

    wall_s: float
    cpu_s: float
    peak_mb: float


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Run ``argv`` to its end; its own wall time, CPU time and peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode()[-3000:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def fan_run(work: Path, tasks: int, tag: str) -> tuple[Sample, Path]:
    """One CLI run of the trivial foreach in a store of its own (plain line output)."""
    home = work / f"store-{tasks}-{tag}"
    env = {**compiled_env(), "ASYNCFLOW_HOME": str(home), "BENCH_TASKS": str(tasks),
           "ASYNCFLOW_DISPLAY": "plain"}  # fmt: skip
    argv = [sys.executable, "fan.py", "run", "--max-num-splits", str(tasks)]
    return measure(argv, work, env), home


def list_tasks(work: Path, home: Path) -> dict[str, float]:
    """Time ``Step.tasks()`` over the foreach step in a fresh process."""
    env = {**compiled_env(), "ASYNCFLOW_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", LIST_TASKS], cwd=work, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(argv: list[str]) -> list[dict[str, float]]:
    """Measure, print the table, and return its rows."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    p.add_argument("--tasks", default="1000,10000", help="foreach sizes, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--big", action="store_true", help="also one run of 100,000 tasks")
    a = p.parse_args(argv)
    sizes = [int(t) for t in a.tasks.split(",") if t]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        (work / "fan.py").write_text(FANOUT)
        for tasks in sizes + ([100_000] if a.big else []):
            repeats = 1 if tasks >= 100_000 else a.repeats
            fixed, runs = [], []
            for r in range(repeats):  # interleaved: a busy minute slows both alike
                fixed.append(fan_run(work, 1, f"{tasks}-{r}")[0])
                sample, home = fan_run(work, tasks, str(r))
                runs.append(sample)
            listed = list_tasks(work, home)
            rows.append(_row(tasks, fixed, runs, listed))
            print(f"... {tasks:,} tasks done", file=sys.stderr)
    print(table(rows))
    return rows


def _row(
    tasks: int, fixed: list[Sample], runs: list[Sample], listed: dict[str, float]
) -> dict[str, float]:
    def med(samples: list[Sample], what: str) -> float:
        return float(statistics.median(getattr(s, what) for s in samples))

    return {
        "tasks": tasks,
        "repeats": len(runs),
        "wall_s": med(runs, "wall_s"),
        "cpu_s": med(runs, "cpu_s"),
        "fixed_cpu_s": med(fixed, "cpu_s"),
        "cpu_per_task_ms": (med(runs, "cpu_s") - med(fixed, "cpu_s")) / tasks * 1000,
        "wall_per_task_ms": (med(runs, "wall_s") - med(fixed, "wall_s")) / tasks * 1000,
        "peak_mb": med(runs, "peak_mb"),
        "fixed_peak_mb": med(fixed, "peak_mb"),
        "list_s": listed["list_s"],
        "list_cpu_s": listed["list_cpu_s"],
    }


def table(rows: list[dict[str, float]]) -> str:
    """The rows as Markdown."""
    lines = [
        "| tasks | runs | whole process CPU | one-task run CPU | CPU per task | wall per task "
        "| peak RSS (one-task run) | `Step.tasks()` wall (CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tasks']:,} | {r['repeats']} | {r['cpu_s']:.2f} s | {r['fixed_cpu_s']:.2f} s "
            f"| {r['cpu_per_task_ms']:.3f} ms | {r['wall_per_task_ms']:.3f} ms "
            f"| {r['peak_mb']:.0f} MiB ({r['fixed_peak_mb']:.0f}) "
            f"| {r['list_s']:.3f} s ({r['list_cpu_s']:.3f} s) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
