"""Two branches whose output interleaves in an order the test sets with events."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading

import anyio
import anyio.from_thread

from asyncflow import FlowSpec, step

#: Created by the test inside its event loop: ``reset()``.
EVENTS: dict[str, anyio.Event] = {}

log = logging.getLogger("flowlog")


def reset() -> None:
    EVENTS.update({name: anyio.Event() for name in ("a", "b", "c")})


def _print_from_thread(text: str, *, copy_context: bool) -> None:
    def target() -> None:
        print(text)

    run = contextvars.copy_context().run if copy_context else None
    thread = threading.Thread(target=(lambda: run(target)) if run else target)
    thread.start()
    thread.join()


class InterleavedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    async def left(self):
        print("left 1")
        EVENTS["a"].set()
        await EVENTS["b"].wait()
        print("left 2", file=sys.stderr)
        log.warning("left logged")
        EVENTS["c"].set()
        self.next(self.join)

    @step
    def right(self):
        anyio.from_thread.run(EVENTS["a"].wait)
        print("right 1")
        anyio.from_thread.run_sync(EVENTS["b"].set)
        anyio.from_thread.run(EVENTS["c"].wait)
        sys.stderr.write("right 2\n")
        _print_from_thread("from a plain thread", copy_context=False)
        _print_from_thread("from a copied thread", copy_context=True)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
