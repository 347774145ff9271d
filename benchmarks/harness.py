"""Running workers in fresh processes and reducing repeated measurements."""

from __future__ import annotations

import compileall
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    """A benchmark worker exited with an error."""

    def __init__(self, command: Sequence[str], code: int, stderr: str) -> None:
        super().__init__(f"{' '.join(command)} exited {code}:\n{stderr[-3000:]}")


@dataclass
class Config:
    """What to run, at which sizes, how often, and where."""

    size_mb: int = 1024
    tasks: list[int] = field(default_factory=lambda: [100, 1_000, 10_000])
    repeats: int = 3
    metaflow: bool = True
    metaflow_repeats: int = 1
    metaflow_tasks: int = 100
    only: list[str] = field(default_factory=list)
    out: Path = REPO / "benchmarks" / "results"
    workdir: Path = REPO / "benchmarks" / "results" / "tmp"
    chart: bool = True
    profile: bool = False

    @property
    def nbytes(self) -> int:
        """The large-artifact size in bytes."""
        return self.size_mb << 20

    def wants(self, name: str) -> bool:
        """Whether ``--only`` selects ``name`` (a suite or a payload)."""
        return not self.only or name in self.only


@dataclass
class Timed:
    """A worker's JSON result plus the wall time of its whole process."""

    result: dict[str, Any]
    process_s: float
    #: CPU seconds (user + system) of the worker and every process it waited for.
    cpu_s: float


def run_worker(
    command: Sequence[str],
    *,
    python: str = sys.executable,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    wrap: Sequence[str] = (),
    out_in_env: bool = False,
) -> Timed:
    """Run ``python command... OUT`` in a fresh process; return the JSON it wrote to OUT.

    With ``out_in_env`` the path goes in ``$BENCH_OUT`` instead (for Metaflow's CLI).
    """
    with tempfile.TemporaryDirectory(prefix="bench-out-") as tmp:
        out = os.path.join(tmp, "result.json")
        argv = [*wrap, python, *command, *([] if out_in_env else [out])]
        extra = {**(env or {}), **({"BENCH_OUT": out} if out_in_env else {})}
        started, cpu = time.perf_counter(), children_cpu()
        proc = subprocess.run(
            argv, cwd=cwd or REPO, env=worker_env(extra), capture_output=True, text=True
        )
        elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu
        if proc.returncode != 0 or not os.path.exists(out):
            raise WorkerError(argv, proc.returncode, proc.stderr + proc.stdout)
        return Timed(json.loads(Path(out).read_text()), elapsed, cpu)


def children_cpu() -> float:
    """CPU seconds used so far by finished child processes and their descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@functools.cache
def _compile_once() -> None:
    for package in ("asyncflow", "serializers"):
        compileall.compile_dir(REPO / package, quiet=1)


def compiled_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default ``os.environ``) for timing whole processes as a user runs them.

    An installed package has its bytecode (pip compiles it at install): asyncflow's is
    compiled here and ``PYTHONDONTWRITEBYTECODE`` dropped, else every measured process
    would compile each module from source (~2x the import time).
    """
    _compile_once()
    base = os.environ if env is None else env
    return {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: this repository importable, no inherited store."""
    env = {k: v for k, v in compiled_env().items() if not k.startswith("ASYNCFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


@contextmanager
def scratch(config: Config, prefix: str) -> Iterator[Path]:
    """A fresh directory under the work directory, removed afterwards."""
    config.workdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=config.workdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def settle() -> None:
    """Flush dirty pages to disk, so each persist starts from the same page-cache state."""
    if hasattr(os, "sync"):
        os.sync()


def median(values: Sequence[float | int | None]) -> float | None:
    """The median of the values that were measured, or None."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def log(message: str) -> None:
    """Progress on stderr, so stdout stays clean."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
