"""One conformance suite for every executor: each flow gives what it gives in-process.

Executors: ``processes:2`` and a real Dask cluster (a ``dask scheduler`` and two
``dask worker`` processes over TCP, started once per session); ``dask-local``
runs the tutorial only (a LocalCluster takes seconds to start).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow import Engine, Flow, FlowSpec, Run
from asyncflow.events import Event, TaskCloned
from asyncflow.exceptions import ExecutorError, WorkerDiedError
from asyncflow.executors.dask import DaskExecutor
from asyncflow.runner import load_flow
from asyncflow.store import Datastore
from asyncflow.store.urls import StoreURLs

from .clusters import DaskCluster, free_port
from .flows.branches import BranchFlow, MergeIncludeFlow
from .flows.cluster import (
    KillableFlow,
    RaisingFlow,
    ReaderFlow,
    ResumableFlow,
    TimeoutFlow,
    WhereFlow,
)
from .flows.foreach import NestedForeachFlow
from .flows.retrying import CatchFlow, FlakyFlow

ArtifactFlow: type[FlowSpec] = load_flow(
    Path(__file__).resolve().parent.parent / "examples" / "artifact_flow.py"
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["processes:2", "dask"])
def executor(request: pytest.FixtureRequest) -> str:
    if request.param == "dask":
        cluster: DaskCluster = request.getfixturevalue("dask_cluster")
        return cluster.address.replace("tcp://", "dask://")
    return str(request.param)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # trio is covered below, once per executor


def snapshot(pathspec: str, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every task's artifacts (by step, in foreach order), as the client reads them."""
    run = Run(pathspec)
    steps: dict[str, Any] = {}
    for step in run:
        tasks = sorted(step, key=lambda t: [f["index"] for f in t.foreach_stack])
        steps[step.id] = [
            {a.id: a.data for a in task if a.id not in skip and not a.id.startswith("_")}
            for task in tasks
        ]
    return steps


@pytest.mark.parametrize(
    "flow",
    [ArtifactFlow, BranchFlow, MergeIncludeFlow, NestedForeachFlow, FlakyFlow, CatchFlow],
    ids=lambda f: f.__name__,
)
async def test_a_flow_gives_what_it_gives_in_process(
    store_root: Path, executor: str, flow: type[FlowSpec]
) -> None:
    local = await Engine().run(flow)
    remote = await Engine(executor=executor).run(flow)
    assert remote.status == local.status == "successful", remote.traceback
    assert snapshot(remote.pathspec) == snapshot(local.pathspec)
    for step in Run(local.pathspec):
        mine = {t.stdout for t in Run(remote.pathspec)[step.id]}
        assert mine == {t.stdout for t in step}, step.id


async def test_a_caught_timeout_and_a_remote_raise(store_root: Path, executor: str) -> None:
    started = time.monotonic()
    result = await Engine(executor=executor).run(TimeoutFlow)
    assert result.successful, result.traceback
    end = Run(result.pathspec)["end"].task
    assert end is not None
    assert end.data.summary == "caught metaflow.plugins.timeout_decorator.TimeoutException"
    assert time.monotonic() - started < 30
    local = await Engine().run(RaisingFlow)
    remote = await Engine(executor=executor).run(RaisingFlow)
    assert remote.status == "failed" and isinstance(remote.exception, KeyError)
    assert remote.traceback == local.traceback


async def test_resume_reruns_only_what_failed(
    store_root: Path, tmp_path: Path, executor: str
) -> None:
    marker = tmp_path / "not-ready"
    marker.write_text("")
    first = await Engine(executor=executor).run(ResumableFlow, {"marker": str(marker)})
    assert first.status == "failed"
    assert first.failed_pathspec is not None and "/work/" in first.failed_pathspec
    marker.unlink()
    events: list[Event] = []
    again = await Engine(executor=executor, listeners=[events.append]).resume(ResumableFlow)
    assert again.successful, again.traceback
    assert Run(again.pathspec)["join"].task.data.squares == [1, 4, 9]  # type: ignore[union-attr]
    cloned = [e for e in events if isinstance(e, TaskCloned)]
    steps = sorted(e.pathspec.split("/")[2] for e in cloned)
    # start, and the items that committed before the failure cancelled the others
    assert steps[0] == "start" and 1 <= steps.count("work") <= 2 and len(steps) <= 3


async def test_a_step_reads_another_flows_run(store_root: Path, executor: str) -> None:
    source = await Engine(executor=executor).run(WhereFlow)
    assert source.successful, source.traceback
    reader = await Engine(executor=executor).run(ReaderFlow)
    assert reader.successful, reader.traceback
    data = Run(reader.pathspec)["end"].task.data  # type: ignore[union-attr]
    assert data.source == source.pathspec
    assert data.outs == ["0:a", "1:b", "2:c", "3:d"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_caller_loop_is_never_blocked(store_root: Path, executor: str, backend: str) -> None:
    ticks: list[float] = []

    async def main() -> Any:
        async with anyio.create_task_group() as tg:

            async def tick() -> None:
                while True:
                    ticks.append(time.monotonic())
                    await anyio.sleep(0.01)

            tg.start_soon(tick)
            result = await Engine(executor=executor).run(WhereFlow)
            tg.cancel_scope.cancel()
        return result

    result = anyio.run(main, backend=backend)
    assert result.successful, result.traceback
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10 and max(gaps) < 1.0, max(gaps)


async def test_kill_9_a_dask_worker_mid_task(
    store_root: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    pid_file = tmp_path / "victim.pid"
    result: Any = None

    async def run() -> None:
        nonlocal result
        executor = dask_cluster.address.replace("tcp://", "dask://")
        result = await Engine(executor=executor).run(KillableFlow, {"pid_file": str(pid_file)})

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(120):
            while not pid_file.exists():
                await anyio.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert result.successful, result.traceback
    tasks = list(Run(result.pathspec)["victim"])
    assert len(tasks) == 1  # retried by asyncflow's @retry, not duplicated
    task = tasks[0]
    assert task.current_attempt == 1 and task.data.attempt == 1
    meta = Datastore(store_root).metadata
    first = meta.get_logs("KillableFlow", result.run_id, int(task.id), "stderr", attempt=0)
    assert "WorkerDiedError" in first and "Dask worker" in first
    with anyio.fail_after(120):  # the nanny brings the worker back for the next tests
        while len(await anyio.to_thread.run_sync(dask_cluster.worker_pids)) < 2:
            await anyio.sleep(0.5)


async def test_an_unreachable_scheduler_fails_the_run_resumably(store_root: Path) -> None:
    address = f"dask://127.0.0.1:{free_port()}"
    with pytest.raises(
        ExecutorError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1"
    ):
        await Engine(executor=address).run(WhereFlow)
    run = Flow("WhereFlow").latest_run
    assert run is not None and not run.successful and run.finished
    again = await Engine().resume(WhereFlow)
    assert again.successful, again.traceback


def test_a_remote_cluster_is_refused_with_a_local_store(tmp_path: Path) -> None:
    local = Datastore(tmp_path / "store").urls
    with pytest.raises(ExecutorError, match=r"sqlite://.*metadata.db on this machine only"):
        DaskExecutor("tcp://10.1.2.3:8786").check_store(local)
    DaskExecutor("tcp://127.0.0.1:8786").check_store(local)
    shared = StoreURLs("s3://bucket/runs", "postgresql://db.example.com/asyncflow")
    DaskExecutor("tcp://10.1.2.3:8786").check_store(shared)


async def test_the_tutorial_on_a_local_cluster(store_root: Path) -> None:
    pytest.importorskip("distributed")
    local = await Engine().run(ArtifactFlow)
    remote = await Engine(executor="dask-local:2").run(ArtifactFlow)
    assert remote.successful, remote.traceback
    assert snapshot(remote.pathspec) == snapshot(local.pathspec)


def test_a_died_worker_error_survives_the_trip() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(WorkerDiedError("F/1/s/2", "was lost")))
    assert err.pathspec == "F/1/s/2" and str(err) == "the worker running F/1/s/2 was lost"


async def test_a_dask_cluster_on_s3_and_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_server: Any, postgres_server: Any
) -> None:
    pytest.importorskip("distributed")
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)  # the LocalCluster's workers inherit them
    monkeypatch.chdir(tmp_path)
    store = Datastore.open(s3_server.fresh_url(), metadata=postgres_server.fresh_url())
    result = await Engine(store, executor="dask-local:2").run(WhereFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec, root=store.urls)
    assert run["join"].task.data.outs == ["0:a", "1:b", "2:c", "3:d"]  # type: ignore[union-attr]
    assert not (tmp_path / ".asyncflow").exists()  # nothing went to a local store
