"""Engine overhead: a trivial foreach of N tasks, asyncflow beside Metaflow."""

from __future__ import annotations

from typing import Any

from . import metaflow_env
from .harness import Config, log, median, run_worker, scratch


def run(config: Config, mf: metaflow_env.MetaflowEnv) -> list[dict[str, Any]]:
    """One row per (system, number of tasks)."""
    rows = []
    for tasks in config.tasks:
        samples = []
        for repeat in range(config.repeats):
            log(f"foreach {tasks}: repeat {repeat + 1}/{config.repeats}")
            samples.append(_asyncflow(config, tasks))
        rows.append(_row("asyncflow", tasks, samples))
    if config.metaflow and mf.available:
        samples = []
        for repeat in range(config.metaflow_repeats):
            log(f"foreach {config.metaflow_tasks}: metaflow {repeat + 1}")
            samples.append(_metaflow(config, mf, config.metaflow_tasks))
        rows.append(_row("metaflow", config.metaflow_tasks, samples))
    return rows


def _asyncflow(config: Config, tasks: int) -> dict[str, Any]:
    with scratch(config, f"af-foreach-{tasks}-") as root:
        timed = run_worker(["-m", "benchmarks.af_worker", "foreach", str(tasks), str(root)])
        return {"run_s": timed.result["run_s"], "cpu_s": timed.result["cpu_s"],
                "process_s": timed.process_s}  # fmt: skip


def _metaflow(config: Config, mf: metaflow_env.MetaflowEnv, tasks: int) -> dict[str, Any]:
    assert mf.python is not None
    with scratch(config, f"mf-foreach-{tasks}-") as folder:
        argv = metaflow_env.run_args(
            "foreach_flow.py", "--max-num-splits", str(tasks), run_id_file=folder / "run-id"
        )
        env = metaflow_env.env_for({"BENCH_TASKS": str(tasks)})
        timed = run_worker(argv, python=mf.python, cwd=folder, env=env, out_in_env=True)
        # Metaflow's run is its whole process: it has no in-process engine to time apart.
        return {"run_s": timed.process_s, "cpu_s": timed.cpu_s, "process_s": timed.process_s}


def _row(system: str, tasks: int, samples: list[dict[str, Any]]) -> dict[str, Any]:
    run_s, cpu_s = median([s["run_s"] for s in samples]), median([s["cpu_s"] for s in samples])
    assert run_s is not None and cpu_s is not None
    return {
        "system": system,
        "tasks": tasks,
        "repeats": len(samples),
        "run_s": run_s,
        "process_s": median([s["process_s"] for s in samples]),
        "per_task_ms": run_s / tasks * 1000,
        "cpu_s": cpu_s,
        "cpu_per_task_ms": cpu_s / tasks * 1000,
        "samples": samples,
    }
