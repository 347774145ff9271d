"""Flows for the embedding tests; a test plugs its coordination into ``HOOKS``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asyncflow import FlowSpec, Parameter, current, step

#: What a test wants a step to await: ``HOOKS[step_name](flow)``.
HOOKS: dict[str, Callable[[Any], Awaitable[None]]] = {}


async def _hook(name: str, flow: Any) -> None:
    hook = HOOKS.get(name)
    if hook is not None:
        await hook(flow)


class HookedFlow(FlowSpec):
    """start (sync) -> wait (async, awaits the test's hook) -> end."""

    @step
    def start(self):
        self.before = "committed"
        self.next(self.wait)

    @step
    async def wait(self):
        self.namespace_seen = current.namespace
        await _hook("wait", self)
        self.during = "set"
        self.next(self.end)

    @step
    def end(self):
        self.after = "done"


class ForeachFlow(FlowSpec):
    """A foreach of three tasks that each print, then a join."""

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        await _hook("work", self)
        print(f"working on {self.input}")
        self.result = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted(i.result for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class NoisyFlow(FlowSpec):
    """Two branches that print to stdout and stderr, one sync and one async."""

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    async def left(self):
        await _hook("left", self)
        self.next(self.join)

    @step
    async def right(self):
        await _hook("right", self)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class Tracked:
    """A value whose decoding a test serializer watches."""

    def __init__(self, text: str) -> None:
        self.text = text


class PrefetchFlow(FlowSpec):
    """An async step reading an inherited artifact, directly and through a helper."""

    @step
    def start(self):
        self.tracked = Tracked("hello")
        self.hidden = Tracked("read through getattr")
        self.next(self.use)

    @step
    async def use(self):
        self.seen = self.tracked.text
        self.hidden_seen = getattr(self, "hid" + "den").text
        self.next(self.end)

    @step
    def end(self):
        pass


class ParamFlow(FlowSpec):
    """One integer parameter."""

    count = Parameter("count", default=1)

    @step
    def start(self):
        self.doubled = self.count * 2
        self.next(self.end)

    @step
    def end(self):
        pass


#: Set by the test: the sync step tells it has begun, then waits to be released.
THREAD_GATES: dict[str, Any] = {}


class SyncWaitFlow(FlowSpec):
    """A sync step (in a worker thread) that the test holds until it has cancelled."""

    @step
    def start(self):
        self.next(self.hold)

    @step
    def hold(self):
        import anyio.from_thread

        anyio.from_thread.run_sync(THREAD_GATES["entered"].set)
        THREAD_GATES["release"].wait()
        self.finished_body = True
        self.next(self.end)

    @step
    def end(self):
        pass


#: Thread ids where CopySpy items were deep-copied.
COPIED_ON: list[int] = []


class CopySpy:
    """A foreach item that notes where the task's private copy of it is made."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __deepcopy__(self, memo: dict[int, Any]) -> CopySpy:
        import threading

        COPIED_ON.append(threading.get_ident())
        return CopySpy(self.n)


class ForeachItemFlow(FlowSpec):
    @step
    def start(self):
        self.items = [CopySpy(1), CopySpy(2)]
        self.next(self.each, foreach="items")

    @step
    async def each(self):
        self.n = self.input.n
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ns = sorted(i.n for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class SourceReadFlow(FlowSpec):
    """An async step whose inherited reads must be found without parsing on the loop."""

    @step
    def start(self):
        self.words = ["read", "in", "a", "thread"]
        self.next(self.count)

    @step
    async def count(self):
        self.total = len(self.words)
        self.next(self.end)

    @step
    def end(self):
        pass


class AsyncJoinFlow(FlowSpec):
    """An async join of a foreach's few parents, reading one artifact of each."""

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.n = self.input * 10
        self.next(self.join)

    @step
    async def join(self, inputs):
        self.ns = sorted(i.n for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
