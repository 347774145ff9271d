"""Structural checks of the per-task path (no clocks): how many coroutines a wide foreach
makes at once, and which tasks leave the event loop to persist."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from asyncflow import Engine, Run
from asyncflow.engine.task import TINY_LENGTH

from .flows import wide
from .flows.wide import WideFlow

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # counts asyncio's tasks
async def test_a_wide_foreach_keeps_a_bounded_number_of_tasks_alive(store_root: Path) -> None:
    wide.PEAK_TASKS[0] = 0
    result = await Engine(max_workers=8, max_num_splits=2000).run(WideFlow, {"n": 2000})
    assert result.status == "successful", result.traceback
    assert Run(result.pathspec)["join"].task.data.outs == list(range(2000))  # type: ignore[union-attr]
    # 8 feeders, the run's own task and a commit leader: not one coroutine per item
    assert 8 <= wide.PEAK_TASKS[0] <= 32, wide.PEAK_TASKS[0]


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    hops: Counter[str] = Counter()
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops[getattr(func, "__name__", repr(func))] += 1
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return hops


async def test_tiny_values_persist_on_the_loop(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = _count_hops(monkeypatch)
    result = await Engine(max_num_splits=300).run(WideFlow, {"n": 300})
    assert result.status == "successful", result.traceback
    assert hops["finish"] == 0  # the async work step persisted its ints and short strings inline
    assert hops["_commit"] <= 300  # commits: one hop per transaction, shared (engine/commits.py)
    task = Run(result.pathspec)["work"].tasks()[0]
    assert task.data.label == "x"


async def test_larger_values_persist_in_a_worker_thread(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = _count_hops(monkeypatch)
    size = TINY_LENGTH + 1
    result = await Engine(max_num_splits=50).run(WideFlow, {"n": 50, "size": size})
    assert result.status == "successful", result.traceback
    assert hops["finish"] == 50
    assert Run(result.pathspec)["work"].tasks()[0].data.label == "x" * size
