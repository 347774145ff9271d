"""``python -m benchmarks``: large artifacts and engine overhead, beside the baselines.

See ``benchmarks/README.md``. Results go to ``benchmarks/results/`` as
``results.md``, ``results.json`` and ``results.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import large, metaflow_env, overhead, payloads, profile, report
from .harness import Config, log

SUITES = ("large", "overhead")


def parse(argv: list[str]) -> Config:
    """The command line as a :class:`Config`."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=int, default=1024, help="large-artifact size (default 1024)")
    p.add_argument("--tasks", default="100,1000,10000", help="foreach sizes, comma-separated")
    p.add_argument("--repeats", type=int, default=3, help="runs per asyncflow/baseline figure")
    p.add_argument("--metaflow-repeats", type=int, default=1, help="runs per Metaflow figure")
    p.add_argument("--metaflow-tasks", type=int, default=100, help="Metaflow's foreach size")
    p.add_argument("--no-metaflow", action="store_true", help="skip Metaflow entirely")
    choices = ", ".join((*SUITES, *payloads.KINDS))
    p.add_argument("--only", default="", help=f"comma-separated subset of: {choices}")
    p.add_argument("--out", type=Path, default=Config.out, help="results directory")
    p.add_argument("--workdir", type=Path, default=Config.workdir, help="scratch directory")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    p.add_argument("--profile", action="store_true", help="py-spy profiles of asyncflow runs")
    a = p.parse_args(argv)
    only = [x for x in a.only.split(",") if x]
    unknown = set(only) - {*SUITES, *payloads.KINDS}
    if unknown:
        p.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {choices}")
    return Config(
        size_mb=a.size_mb, tasks=[int(t) for t in a.tasks.split(",") if t],
        repeats=a.repeats, metaflow=not a.no_metaflow, metaflow_repeats=a.metaflow_repeats,
        metaflow_tasks=a.metaflow_tasks, only=only, out=a.out, workdir=a.workdir,
        chart=not a.no_chart, profile=a.profile,
    )  # fmt: skip


def main(argv: list[str]) -> dict[str, Any]:
    """Run the selected suites and write the results."""
    config = parse(argv)
    mf = metaflow_env.ensure() if config.metaflow else metaflow_env.MetaflowEnv(None, None)
    wants_large = any(config.wants(k) for k in ("large", *payloads.KINDS))
    results: dict[str, Any] = {
        "meta": {
            "command": shlex.join(["python", "-m", "benchmarks", *argv]),
            "machine": report.machine(config),
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "metaflow": _metaflow_note(config, mf),
        },
        "large": large.run(config, mf) if wants_large else [],
        "overhead": overhead.run(config, mf) if config.wants("overhead") else [],
    }
    results["targets"] = report.targets(results["large"], results["overhead"])
    if config.profile:
        results["profiles"] = profile.run(config)
    for path in report.write(config, results):
        log(f"wrote {path}")
    return results


def _metaflow_note(config: Config, mf: metaflow_env.MetaflowEnv) -> str:
    if not config.metaflow:
        return "not run (--no-metaflow)"
    if not mf.available:
        return f"not run: {mf.problem}"
    return f"{mf.version}, local datastore and metadata, in benchmarks/.venv-metaflow"


if __name__ == "__main__":
    main(sys.argv[1:])
