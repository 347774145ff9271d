"""Run by tests/test_ray.py in a process of its own: flows on a local Ray, as JSON.

``python -m tests.ray_probe BACKEND ROOT`` prints one JSON object on its last line,
or ``SKIP: why`` when Ray cannot start here.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio

from asyncflow import Engine, Run
from asyncflow.exceptions import ExecutorError
from asyncflow.executors import open_executor
from asyncflow.store import Datastore

from .flows.cluster import RaisingFlow, WhereFlow

__all__ = ["probe"]


async def probe(root: str) -> dict[str, Any]:
    """Run the probe flows on ``ray-local:2`` and in-process; what the client reads back."""
    executor = open_executor("ray-local:2")
    try:
        await executor.start()
    except ExecutorError as exc:
        return {"skip": str(exc)}
    try:
        store = Datastore(root)
        where = await Engine(store, executor=executor).run(WhereFlow)
        local = await Engine(store).run(RaisingFlow)
        remote = await Engine(store, executor=executor).run(RaisingFlow)
    finally:
        await executor.aclose()
    run = Run(where.pathspec, root=root)
    join = run["join"].task.data  # type: ignore[union-attr]
    return {
        "status": where.status, "traceback": where.traceback, "outs": join.outs,
        "pids": join.pids, "stdout": sorted(t.stdout.strip() for t in run["work"]),
        "remote": [remote.status, type(remote.exception).__name__, remote.traceback],
        "local_traceback": local.traceback, "driver_pid": os.getpid(),
    }  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local tests only
    print(json.dumps(anyio.run(probe, sys.argv[2], backend=sys.argv[1])))
