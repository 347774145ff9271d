"""Nothing the engine does blocks the caller's event loop: its heavy work runs off the
loop's thread (how long the loop waits is measured in benchmarks/loop_lag.py)."""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, Run, Runner
from asyncflow.client import Task
from asyncflow.engine.prefetch import attributes_read
from asyncflow.store import Datastore, LocalBlobStore, SQLiteMetadataStore
from asyncflow.store.verified import ReadVerifier
from serializers import Registry, Serialized, Serializer

from .flows.big import (
    BIG_VALUES,
    SIZE,
    BigArtifactFlow,
    BigValueFlow,
    LargeValueFlow,
    big_values,
    large_value,
)
from .flows.embedding import (
    COPIED_ON,
    AsyncJoinFlow,
    ForeachItemFlow,
    PrefetchFlow,
    SourceReadFlow,
    Tracked,
)

pytestmark = pytest.mark.anyio

#: Where the store does a value's heavy work: encode, hash and write it, read, verify and
#: decode it back, and commit its task.
HEAVY = {
    Registry: ("serialize", "deserialize"),
    LocalBlobStore: ("write", "put", "get"),
    ReadVerifier: ("check",),
    SQLiteMetadataStore: ("commit_task", "commit_tasks"),
}
#: Values up to this size may be encoded on the loop (the engine persists tiny ones there:
#: asyncflow.engine.task.persists_cheaply); a larger one there is the loop blocked.
SMALL = 64 * 1024


def _nbytes(obj: Any) -> int:
    """The bytes in ``obj`` when it is a buffer, a str or a sequence of those; else 0."""
    if isinstance(obj, str):
        return len(obj)
    if isinstance(obj, list | tuple):
        return sum(_nbytes(item) for item in obj)
    try:
        return memoryview(obj).nbytes
    except TypeError:
        return 0


@pytest.fixture
def heavy_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bool]]:
    """For each heavy store call (``Registry.serialize``...), whether each call ran on
    the thread of the test's event loop with a value larger than SMALL, or a commit (True),
    or not (False), from the time it is asked for.

    This is the structural form of "the loop stays responsive": the time a 300 MB value
    takes is the benchmark's (``python -m benchmarks.loop_lag``); that the work never
    holds the loop's thread is the engine's, and this is what a test can check. Holding
    the GIL in a worker is the serializers' part (``bytes/1`` and ``numpy/1`` write the
    value's own buffers; the copies back are made without the GIL:
    tests/serializers/test_contract_bytes.py).
    """
    loop = threading.get_ident()
    calls: dict[str, list[bool]] = {}

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            large = "commit" in name or _nbytes([*args[1:], result]) > SMALL
            calls.setdefault(name, []).append(large and threading.get_ident() == loop)
            return result

        return watched

    for cls, methods in HEAVY.items():
        for method in methods:
            name = f"{cls.__name__}.{method}"
            monkeypatch.setattr(cls, method, spy(name, getattr(cls, method)))
    return calls


def _on_loop(calls: dict[str, list[bool]]) -> dict[str, int]:
    return {name: sum(seen) for name, seen in calls.items() if any(seen)}


@pytest.mark.parametrize("kind", ["array", "bytes", "str", "tuple"])
async def test_an_engine_run_stores_and_reads_large_values_off_the_loop(
    tmp_path: Path, heavy_calls: dict[str, list[bool]], kind: str
) -> None:
    result = await Runner(LargeValueFlow, datastore_root=tmp_path).async_run(kind=kind)
    assert result.status == "successful"
    assert _on_loop(heavy_calls) == {}
    # the spies saw the work: a broken engine doing it on the loop would show above
    seen = heavy_calls.keys()
    assert {"Registry.serialize", "LocalBlobStore.write", "Registry.deserialize",
            "ReadVerifier.check", "SQLiteMetadataStore.commit_tasks"} <= seen, seen  # fmt: skip
    inspect = result.run["inspect"].task
    assert inspect is not None and inspect.data.length == len(large_value(kind))


@pytest.mark.parametrize("kind", ["array", "bytes", "str", "tuple"])
async def test_aload_reads_and_decodes_off_the_loop(
    tmp_path: Path, heavy_calls: dict[str, list[bool]], kind: str
) -> None:
    result = await Runner(LargeValueFlow, datastore_root=tmp_path).async_run(kind=kind)
    artifact = Task(f"{result.run.pathspec}/start/1", root=tmp_path)["big"]
    heavy_calls.clear()
    value = await artifact.aload()
    assert len(value) == len(large_value(kind))
    assert heavy_calls.keys() >= {"Registry.deserialize", "LocalBlobStore.get"}
    assert _on_loop(heavy_calls) == {}


def test_the_thread_spy_sees_work_done_on_the_loop_thread(
    tmp_path: Path, heavy_calls: dict[str, list[bool]]
) -> None:
    store = Datastore(tmp_path)
    store.load(store.persist("big", large_value("bytes")))  # right here, on this thread
    assert _on_loop(heavy_calls) == {
        "Registry.serialize": 1, "LocalBlobStore.write": 1, "LocalBlobStore.get": 1,
        "ReadVerifier.check": 1, "Registry.deserialize": 1,
    }  # fmt: skip


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


async def test_an_async_join_reads_its_parents_artifacts_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = threading.get_ident()
    read_on: list[int] = []
    original = SQLiteMetadataStore.list_artifacts_of_tasks

    def spy(self: SQLiteMetadataStore, *args: Any, **kwargs: Any) -> Any:
        read_on.append(threading.get_ident())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLiteMetadataStore, "list_artifacts_of_tasks", spy)
    result = await Runner(AsyncJoinFlow, datastore_root=tmp_path).async_run()
    assert result.status == "successful"
    join = result.run["join"].task
    assert join is not None and join.data.ns == [10, 20, 30]
    assert read_on and loop not in read_on  # the join's one page, read in a thread
