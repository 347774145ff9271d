"""Nothing the engine does blocks the caller's event loop."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow import Engine, FlowSpec, Run, Runner
from asyncflow.client import Task
from asyncflow.engine.prefetch import attributes_read
from serializers import Registry, Serialized, Serializer

from .flows.big import BIG_VALUES, SIZE, BigArtifactFlow, BigValueFlow, SmallFlow, big_values
from .flows.embedding import COPIED_ON, ForeachItemFlow, PrefetchFlow, SourceReadFlow, Tracked

pytestmark = pytest.mark.anyio

TICK = 0.005
MAX_LAG = 0.050  # the requirement
ATTEMPTS = 5


def _cpu_waits() -> dict[str, int]:
    """Nanoseconds each thread of this process has spent runnable but waiting for a CPU
    (Linux; elsewhere nothing, and nothing is discounted)."""
    waits = {}
    for task in Path("/proc/self/task").glob("*"):
        try:
            waits[task.name] = int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waits


def _longest_cpu_wait(before: dict[str, int], after: dict[str, int]) -> float:
    # The loop's thread waiting for a CPU, or a worker waiting for one while it holds
    # the GIL, is the machine's load, not the engine. A thread blocked on the GIL is
    # not runnable, so a worker that really holds the GIL running shows no wait here.
    return max((after[t] - before[t] for t in before.keys() & after.keys()), default=0) / 1e9


async def _max_lag_during(
    runner: Runner, *others: Runner, **params: Any
) -> tuple[float, list[str]]:
    """Max lag of a ticker sleeping TICK in a loop while ``runner`` (given ``params``) and
    ``others`` run on the same loop.

    Each tick's lateness counts less the longest time any thread of the process
    waited for a CPU meanwhile (other processes on a loaded machine).
    """
    lags: list[float] = []
    done = anyio.Event()
    statuses: list[str] = []

    async def ticker() -> None:
        while not done.is_set():
            start, waits = time.perf_counter(), _cpu_waits()
            await anyio.sleep(TICK)
            elapsed = time.perf_counter() - start
            lags.append(elapsed - TICK - _longest_cpu_wait(waits, _cpu_waits()))

    async def run(runner: Runner, params: dict[str, Any]) -> None:
        statuses.append((await runner.async_run(**params)).status)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        async with anyio.create_task_group() as runs:
            runs.start_soon(run, runner, params)
            for other in others:
                runs.start_soon(run, other, {})
        done.set()
    return max(lags), statuses


async def _best_max_lag(tmp_path: Path, flow: type[FlowSpec], **params: Any) -> list[float]:
    """Max loop lags of fresh attempts (fresh stores: no deduplication), each while
    ``flow`` and a flow of small tasks share the loop; stops at the first under MAX_LAG.

    Blocking the loop is systematic: it shows in every attempt, at the same place.
    Noise (a worker descheduled with the GIL in hand) is not: the best attempt is the
    engine's figure.
    """
    lags = []
    for attempt in range(ATTEMPTS):
        big = Runner(flow, datastore_root=tmp_path / f"store{attempt}")
        small = Runner(SmallFlow, datastore_root=tmp_path / f"small{attempt}")
        lag, statuses = await _max_lag_during(big, small, **params)
        assert statuses == ["successful", "successful"]
        lags.append(lag)
        if lag < MAX_LAG:
            break
    print(f"max loop lag per attempt: {', '.join(f'{lag * 1000:.1f} ms' for lag in lags)}")
    return lags


async def test_loop_stays_responsive_while_300_mb_are_persisted(tmp_path: Path) -> None:
    lags = await _best_max_lag(tmp_path, BigArtifactFlow)
    assert min(lags) < MAX_LAG, f"max loop lag per attempt (s): {lags}"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", ["bytes", "str", "tuple"])
async def test_loop_stays_responsive_while_300_mb_of_bytes_like_values_go_by(
    tmp_path: Path, kind: str
) -> None:
    big_values()  # built before the clock starts: making them is the test's own work
    lags = await _best_max_lag(tmp_path, BigValueFlow, kind=kind)
    assert min(lags) < MAX_LAG, f"max loop lag per attempt (s): {lags}"


async def _lag_while(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Max lag of a ticker (as in :func:`_max_lag_during`) while ``work()`` is awaited
    on the same loop, and what it returned."""
    lags: list[float] = []
    done = anyio.Event()
    result: list[Any] = []

    async def ticker() -> None:
        while not done.is_set():
            start, waits = time.perf_counter(), _cpu_waits()
            await anyio.sleep(TICK)
            elapsed = time.perf_counter() - start
            lags.append(elapsed - TICK - _longest_cpu_wait(waits, _cpu_waits()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(TICK)
        result.append(await work())
        done.set()
    return max(lags), result[0]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", ["bytes", "str", "tuple"])
async def test_aload_of_300_mb_of_bytes_like_values_keeps_the_loop_responsive(
    tmp_path: Path, kind: str
) -> None:
    big_values()
    result = await Runner(BigValueFlow, datastore_root=tmp_path).async_run(kind=kind)
    pathspec = f"{result.run.pathspec}/start/1"
    lags = []
    for _ in range(ATTEMPTS):
        artifact = Task(pathspec, root=tmp_path)["big"]  # a fresh object: nothing cached
        lag, value = await _lag_while(artifact.aload)
        assert len(value) == len(BIG_VALUES[kind])
        del value
        lags.append(lag)
        if lag < MAX_LAG:
            break
    assert min(lags) < MAX_LAG, f"max loop lag per attempt (s): {lags}"


async def test_bytes_like_values_are_stored_as_raw_buffers(tmp_path: Path) -> None:
    big_values()
    for kind in ("bytes", "str", "tuple"):
        result = await Runner(BigValueFlow, datastore_root=tmp_path / kind).async_run(kind=kind)
        start, end = result.run["start"].task, result.run["end"].task
        assert start is not None and end is not None
        assert start["big"].encoding == "bytes/1"
        assert end.data.length == len(BIG_VALUES[kind])


async def test_the_big_artifact_is_stored_whole(tmp_path: Path) -> None:
    result = await Runner(BigArtifactFlow, datastore_root=tmp_path).async_run()
    start = result.run["start"].task
    assert start is not None
    assert start["big"].size == SIZE
    assert start["big"].encoding == "numpy/1"
    end = result.run["end"].task
    assert end is not None and end.data.first == 7


class _SpySerializer(Serializer):
    """Records the thread each value is decoded on."""

    encoding = "spy/1"
    priority = 1000

    def __init__(self) -> None:
        self.decoded_on: dict[str, int] = {}

    def can_serialize(self, obj: Any) -> bool:
        return isinstance(obj, Tracked)

    def serialize(self, obj: Any) -> Serialized:
        return Serialized([obj.text.encode()])

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        text = bytes(buffer).decode()
        self.decoded_on[text] = threading.get_ident()
        return Tracked(text)


async def test_async_steps_read_inherited_artifacts_off_the_loop(tmp_path: Path) -> None:
    spy = _SpySerializer()
    registry = Registry(plugins=False)
    registry.register(spy)
    result = await Runner(PrefetchFlow, datastore_root=tmp_path, registry=registry).async_run()
    assert result.status == "successful"
    decoded_on = dict(spy.decoded_on)
    loop = threading.get_ident()
    assert decoded_on["hello"] != loop  # `self.tracked` in the source: prefetched
    assert decoded_on["read through getattr"] == loop  # invisible in the source: lazy
    use = result.run["use"].task
    assert use is not None
    assert (use.data.seen, use.data.hidden_seen) == ("hello", "read through getattr")


def test_attributes_read_finds_self_reads_only() -> None:
    assert attributes_read(PrefetchFlow.use) == {"tracked", "next", "end"}


async def test_async_steps_copy_their_foreach_item_off_the_loop(tmp_path: Path) -> None:
    COPIED_ON.clear()
    result = await Runner(ForeachItemFlow, datastore_root=tmp_path).async_run()
    assert result.status == "successful"
    assert len(COPIED_ON) == 2
    assert threading.get_ident() not in COPIED_ON
    end = result.run["end"].task
    assert end is not None and end.data.ns == [1, 2]


async def test_an_async_step_is_not_parsed_on_the_loop(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    parsed_on_loop: list[str] = []
    real_parse = ast.parse

    def watching(source: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == loop_thread:  # would wait on the parse lock, too
            parsed_on_loop.append(str(source)[:40])
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", watching)
    result = await Engine().run(SourceReadFlow)
    assert result.successful
    assert parsed_on_loop == []
    assert Run(result.pathspec).data.total == 4  # type: ignore[union-attr]
