"""Values a step stores come back equal, through the store and the client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pandas as pd
import pytest

from asyncflow import Engine, FlowSpec, Run, step
from serializers import Declined, MsgpackSerializer
from serializers._msgpack import MAX_DEPTH

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _nested(depth: int) -> Any:
    """Lists and dicts ``depth`` levels deep, the innermost one empty."""
    value: Any = {}
    for level in range(depth - 1):
        value = {"k": value} if level % 2 else [value]
    return value


def _frame(rows: int = 3) -> pd.DataFrame:
    """Categorical, datetime (naive and tz-aware) columns and a named RangeIndex."""
    return pd.DataFrame(
        {
            "c": pd.Categorical(["lo", "hi", "lo"] * (rows // 3), categories=["lo", "hi"]),
            "t": pd.date_range("2024-01-01", periods=rows, freq="37min"),
            "tz": pd.date_range("2024-01-01", periods=rows, freq="D", tz="Europe/Paris"),
        },
        index=pd.RangeIndex(5, 5 + 2 * rows, 2, name="row"),
    )


BIG_ROWS = 3 * 100_000  # about 5 MB: a memory-mapped blob, not an inline value


class ValuesFlow(FlowSpec):
    @step
    def start(self):
        self.deepest = _nested(MAX_DEPTH)
        self.frame = _frame()
        self.next(self.end)

    @step
    def end(self):
        pass


class BigFrameFlow(FlowSpec):
    @step
    def start(self):
        self.frame = _frame(BIG_ROWS)
        self.next(self.end)

    @step
    def end(self):
        pd.testing.assert_frame_equal(self.frame, _frame(BIG_ROWS))  # a step's own copy
        self.frame.iloc[0, 0] = "hi"  # editable there, as after unpickling


class TooDeepFlow(FlowSpec):
    @step
    def start(self):
        self.too_deep = _nested(MAX_DEPTH + 1)
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.fixture
def deep_pickling() -> Iterator[None]:
    """Enough recursion for cloudpickle to save 1025 levels (it needs two frames a level)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def test_the_depth_limit_is_the_unpackers() -> None:
    # one level more than MAX_DEPTH is packed but cannot be unpacked: that is why it is declined
    msgpack.unpackb(msgpack.packb(_nested(MAX_DEPTH)))
    with pytest.raises(msgpack.StackError):
        msgpack.unpackb(msgpack.packb(_nested(MAX_DEPTH + 1)))


def test_msgpack_declines_what_it_could_not_read_back() -> None:
    with pytest.raises(Declined, match="nested deeper than 1024 levels cannot be read back"):
        MsgpackSerializer().serialize([_nested(MAX_DEPTH)])


async def test_a_value_too_deep_for_msgpack_goes_to_the_next_serializer(
    store_root: Path, deep_pickling: None
) -> None:
    result = await Engine().run(TooDeepFlow)
    assert result.successful
    task = Run(result.pathspec)["end"].task
    assert task is not None
    assert task["too_deep"].encoding == "cloudpickle/1"
    assert task.data.too_deep == _nested(MAX_DEPTH + 1)


async def test_a_value_no_serializer_can_read_back_fails_the_step(store_root: Path) -> None:
    # cloudpickle, next in line, runs out of recursion under the default limit: the
    # step fails at once, naming the artifact and why, instead of storing a dead value
    result = await Engine().run(TooDeepFlow)
    assert not result.successful
    assert "too_deep" in str(result.exception)
    assert "nested deeper than 1024 levels cannot be read back" in str(result.exception)


async def test_values_come_back_equal_and_in_their_encoding(store_root: Path) -> None:
    result = await Engine().run(ValuesFlow)
    assert result.successful
    run = Run(result.pathspec)
    task = run["end"].task
    assert task is not None
    assert task["deepest"].encoding == "msgpack/1"
    assert msgpack.packb(task.data.deepest) == msgpack.packb(_nested(MAX_DEPTH))  # no == recursion
    assert task["frame"].encoding == "arrow-ipc/1"
    pd.testing.assert_frame_equal(task.data.frame, _frame())


async def test_a_large_frame_is_an_arrow_blob_equal_in_the_client_and_editable_in_a_step(
    store_root: Path,
) -> None:
    result = await Engine().run(BigFrameFlow)
    assert result.successful, result.traceback
    start = Run(result.pathspec)["start"].task
    assert start is not None
    artifact = start["frame"]
    assert (artifact.encoding, artifact.inline) == ("arrow-ipc/1", False)
    pd.testing.assert_frame_equal(artifact.data, _frame(BIG_ROWS))  # from the memory map
