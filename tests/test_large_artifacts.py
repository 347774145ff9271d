"""Arrays and frames through the engine: zero-copy loads, private copies, no re-writes."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asyncflow import Engine, Run
from asyncflow.events import ArtifactStored, Event

from .flows.arrays import ArrayFlow, N

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_in_place_changes_stay_in_the_task_that_made_them(store_root: Path) -> None:
    result = await Engine().run(ArrayFlow)
    assert result.status == "successful", result.traceback
    run = Run(result.pathspec)
    start = run["start"].task
    assert start is not None
    np.testing.assert_array_equal(start["arr"].data, np.arange(N, dtype=np.float64))
    join = run["join"].task
    assert join is not None and join.data.firsts == [1.0, 2.0]
    bumps = sorted(run["bump"].tasks(), key=lambda t: t.index or 0)
    assert [t.data.arr[0] for t in bumps] == [1.0, 2.0]
    assert bumps[0]["arr"].sha != start["arr"].sha


async def test_values_only_read_are_not_stored_again(store_root: Path) -> None:
    events: list[Event] = []
    result = await Engine(listeners=[events.append]).run(ArrayFlow)
    run = Run(result.pathspec)
    read_only = run["read_only"].task
    assert read_only is not None
    stored = [e for e in events if isinstance(e, ArtifactStored)]
    assert sorted(e.name for e in stored if e.pathspec == read_only.pathspec) == ["rows", "total"]
    join, end = run["join"].task, run["end"].task
    assert join is not None and end is not None
    assert end["arr"].sha == join["arr"].sha
    assert end["frame"].sha == join["frame"].sha
    assert end.data.total == float((np.arange(N) + 1.0).sum())
    assert end.data.rows == N


async def test_client_loads_large_arrays_zero_copy(store_root: Path) -> None:
    result = await Engine().run(ArrayFlow)
    artifact = Run(result.pathspec)["start"].task["arr"]  # type: ignore[index]
    assert artifact.encoding == "numpy/1"
    assert artifact.metadata["shape"] == [N] and artifact.metadata["dtype"] == "<f8"
    arr = artifact.data
    assert not arr.flags.writeable
    base = arr
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    frame = Run(result.pathspec)["start"].task["frame"]  # type: ignore[index]
    assert frame.encoding == "arrow-ipc/1"
    pd.testing.assert_frame_equal(
        frame.data, pd.DataFrame({"x": np.arange(N), "y": np.arange(N) * 0.5})
    )


def _backing(values: np.ndarray) -> object:
    base: object = values
    while isinstance(base, np.ndarray):
        base = base.base
    return base


async def test_client_loads_large_frames_zero_copy_and_steps_get_editable_ones(
    store_root: Path,
) -> None:
    result = await Engine().run(ArrayFlow)
    frame = Run(result.pathspec)["start"].task["frame"].data  # type: ignore[index]
    column = frame["y"].to_numpy()
    assert not column.flags.writeable
    assert not isinstance(_backing(column), np.ndarray)  # a view of the stored file
    with pytest.raises(ValueError, match="read-only"):
        frame.loc[0, "y"] = -1.0
    edited = Run(result.pathspec)["join"].task
    assert edited is not None and edited.data.rows_edited == N
