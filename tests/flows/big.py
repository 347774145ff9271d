"""Flows that persist 300 MB (an array, bytes, str, a tuple of bytes), for the loop tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from asyncflow import FlowSpec, Parameter, step

SIZE = 300 * 1024 * 1024


class BigArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.big = np.full(SIZE, 7, dtype=np.uint8)
        self.next(self.inspect)

    @step
    async def inspect(self):
        self.first = int(self.big[0])  # an async step reading it: prefetched off the loop
        self.next(self.end)

    @step
    def end(self):
        pass


#: Values for BigValueFlow, by kind, built by the test before it starts measuring
#: (making 300 MB of str holds the GIL too, and that is the test's doing, not the engine's).
BIG_VALUES: dict[str, Any] = {}


def big_values() -> dict[str, Any]:
    """300 MB of bytes, of ASCII str, and as a tuple of 1 MiB bytes (built once)."""
    if not BIG_VALUES:
        item = 1024 * 1024
        BIG_VALUES["bytes"] = bytes(SIZE)
        BIG_VALUES["str"] = bytes(SIZE).decode("ascii")
        BIG_VALUES["tuple"] = tuple(bytes(item) for _ in range(SIZE // item))
    return BIG_VALUES


class BigValueFlow(FlowSpec):
    kind = Parameter("kind", default="bytes")

    @step
    def start(self):
        self.big = BIG_VALUES[self.kind]
        self.next(self.inspect)

    @step
    async def inspect(self):
        self.length = len(self.big)  # an async step reading it: loaded off the loop
        self.next(self.end)

    @step
    def end(self):
        pass


#: The size of LargeValueFlow's value: past the inline limit and bytes/1's minimum.
LARGE = 2 * 1024 * 1024


def large_value(kind: str) -> Any:
    """LARGE bytes of a value of ``kind``: array, bytes, str, or a tuple of 1 MiB bytes."""
    if kind == "array":
        return np.full(LARGE, 7, dtype=np.uint8)
    if kind == "str":
        return "x" * LARGE
    if kind == "tuple":
        return tuple(bytes(1024 * 1024) for _ in range(LARGE // (1024 * 1024)))
    return bytes(LARGE)


class LargeValueFlow(FlowSpec):
    """A large value of ``kind`` (array, bytes, str, tuple) read back by an async step,
    which makes another."""

    kind = Parameter("kind", default="bytes")

    @step
    def start(self):
        self.big = large_value(self.kind)
        self.next(self.inspect)

    @step
    async def inspect(self):
        self.length = len(self.big)  # an async step reading it: prefetched off the loop
        self.again = large_value(self.kind)  # made on the loop, to be stored off it
        self.next(self.end)

    @step
    def end(self):
        pass
