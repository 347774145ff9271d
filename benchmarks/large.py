"""Large artifacts: persist, load, bytes on disk and peak memory, beside the baselines.

Per payload and repeat, each in fresh processes and a fresh directory on the same disk:
asyncflow (persist through a flow, load through the client), the raw write of as many
bytes as asyncflow stored, and plain pickle to a file and back. Metaflow's local
datastore runs the same flow afterwards, ``metaflow_repeats`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import metaflow_env, payloads
from .harness import Config, log, median, run_worker, scratch, settle

Sample = dict[str, Any]


def run(config: Config, mf: metaflow_env.MetaflowEnv) -> list[dict[str, Any]]:
    """Every selected payload against every system; one row per (payload, system)."""
    rows: list[dict[str, Any]] = []
    for kind in payloads.KINDS:
        if not (config.wants(kind) or config.wants("large")):
            continue
        samples: dict[str, list[Sample]] = {"asyncflow": [], "raw": [], "pickle": []}
        for repeat in range(config.repeats):
            log(f"{kind}: repeat {repeat + 1}/{config.repeats}")
            stored = _asyncflow(config, kind, samples["asyncflow"])
            samples["raw"].append(_raw(config, stored))
            samples["pickle"].append(_pickle(config, kind))
        if config.metaflow and mf.available:
            samples["metaflow"] = []
            for repeat in range(config.metaflow_repeats):
                log(f"{kind}: metaflow {repeat + 1}/{config.metaflow_repeats}")
                samples["metaflow"].append(_metaflow(config, mf, kind))
        rows.extend(_row(config, kind, system, runs) for system, runs in samples.items())
    return rows


def _asyncflow(config: Config, kind: str, out: list[Sample]) -> int:
    with scratch(config, f"af-{kind}-") as root:
        store = str(root / "store")
        settle()
        persisted = run_worker(
            ["-m", "benchmarks.af_worker", "persist", kind, str(config.nbytes), store]
        ).result
        loaded = run_worker(["-m", "benchmarks.af_worker", "load", store, persisted["pathspec"]])
        out.append({**persisted, **loaded.result})
        return int(persisted["disk_bytes"])


def _raw(config: Config, nbytes: int) -> Sample:
    with scratch(config, "raw-") as folder:
        args = ["raw", str(nbytes), str(folder)]
        settle()
        return run_worker(["-m", "benchmarks.baseline_worker", *args]).result


def _pickle(config: Config, kind: str) -> Sample:
    with scratch(config, f"pickle-{kind}-") as folder:
        path = str(folder / "payload.pickle")
        settle()
        dumped = run_worker(
            ["-m", "benchmarks.baseline_worker", "pickle-dump", kind, str(config.nbytes), path]
        ).result
        loaded = run_worker(["-m", "benchmarks.baseline_worker", "pickle-load", path]).result
        return {**dumped, **loaded}


def _metaflow(config: Config, mf: metaflow_env.MetaflowEnv, kind: str) -> Sample:
    assert mf.python is not None
    with scratch(config, f"mf-{kind}-") as folder:
        env = metaflow_env.env_for({"BENCH_KIND": kind, "BENCH_NBYTES": str(config.nbytes)})
        run_id_file = folder / "run-id"
        settle()
        persisted = run_worker(
            metaflow_env.run_args("persist_flow.py", run_id_file=run_id_file),
            python=mf.python, cwd=folder, env=env, out_in_env=True,
        ).result  # fmt: skip
        pathspec = f"MFPersistFlow/{metaflow_env.read_run_id(run_id_file)}"
        loaded = run_worker(
            [str(metaflow_env.flow_script("load.py")), pathspec],
            python=mf.python, cwd=folder, env=env,
        ).result  # fmt: skip
        disk = metaflow_env.tree_bytes(Path(folder) / ".metaflow")
        return {**persisted, **loaded, "disk_bytes": disk}


def _row(config: Config, kind: str, system: str, runs: list[Sample]) -> dict[str, Any]:
    def pick(key: str) -> Callable[[Sample], Any]:
        return lambda s: s.get(key)

    over = [s["peak_rss"] - s["flow_rss"] if "flow_rss" in s else None for s in runs]
    return {
        "payload": kind,
        "system": system,
        "repeats": len(runs),
        "payload_bytes": payloads.nominal_bytes(kind, config.nbytes),
        "payload_rss": median([pick("payload_rss")(s) for s in runs]),
        "persist_s": median([pick("persist_s")(s) for s in runs]),
        "persist_best_s": min((s["persist_s"] for s in runs), default=None),
        "persist_cpu_s": median([pick("persist_cpu_s")(s) for s in runs]),
        "load_s": median([pick("load_s")(s) for s in runs]),
        "disk_bytes": median([pick("disk_bytes")(s) for s in runs]),
        "peak_over_flow": median(over),
        "loaded_type": next((s["type"] for s in runs if "type" in s), None),
        "samples": runs,
    }
