"""Nothing the engine does blocks the caller's event loop."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow import Engine, Run, Runner
from asyncflow.engine.prefetch import attributes_read
from serializers import Registry, Serialized, Serializer

from .flows.big import SIZE, BigArtifactFlow
from .flows.embedding import COPIED_ON, ForeachItemFlow, PrefetchFlow, SourceReadFlow, Tracked

pytestmark = pytest.mark.anyio

TICK = 0.005
MAX_LAG = 0.050  # the requirement
ATTEMPTS = 3


def _waiting_for_a_cpu() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux; else 0)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def _max_lag_during(runner: Runner) -> tuple[float, str]:
    """Max lag of a ticker sleeping TICK in a loop while ``runner`` runs a flow.

    Time the OS kept the loop's thread waiting for a CPU (other processes on a
    loaded machine) is not the engine's doing and is left out; time it waited for
    the GIL or ran code on the loop is counted.
    """
    lags: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start, waited = time.perf_counter(), _waiting_for_a_cpu()
            await anyio.sleep(TICK)
            elapsed = time.perf_counter() - start
            lags.append(elapsed - TICK - (_waiting_for_a_cpu() - waited))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await runner.async_run()
        done.set()
    return max(lags), result.status


async def test_loop_stays_responsive_while_300_mb_are_persisted(tmp_path: Path) -> None:
    # The blocking we guard against is systematic: it shows in every attempt. A
    # slow attempt on a loaded machine can still be the OS (a worker holding the GIL
    # while it waits for a CPU), so the best of a few fresh attempts (fresh stores:
    # no deduplication) is taken.
    lags = []
    for attempt in range(ATTEMPTS):
        runner = Runner(BigArtifactFlow, datastore_root=tmp_path / f"store{attempt}")
        lag, status = await _max_lag_during(runner)
        assert status == "successful"
        lags.append(lag)
        if lag < MAX_LAG:
            break
    print(f"max loop lag per attempt: {', '.join(f'{lag * 1000:.1f} ms' for lag in lags)}")
    assert min(lags) < MAX_LAG, f"max loop lag per attempt (s): {lags}"


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
