"""Artifacts of many types, a class defined in the flow file, and a class-level constant."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from asyncflow import FlowSpec, step


@dataclass
class Point:
    x: int
    y: int


class Counter:
    """A plain class of the flow file, with state and a method."""

    def __init__(self, start):
        self.value = start

    def bump(self):
        self.value += 1
        return self.value


class ArtifactTypesFlow(FlowSpec):
    """Stores one artifact of each kind a user reaches for."""

    SCALE = 3

    @step
    def start(self):
        self.a_dict = {"k": [1, 2], "nested": {"z": None}}
        self.a_set = {1, 2, 3}
        self.a_frozenset = frozenset({"a"})
        self.a_tuple = (1, "two", 3.0)
        self.a_bytes = b"\x00\x01"
        self.a_none = None
        self.a_point = Point(1, 2)
        self.a_counter = Counter(self.SCALE)
        self.a_array = np.arange(6, dtype=np.int64).reshape(2, 3) * self.SCALE
        self.a_frame = pd.DataFrame({"name": ["p", "q"], "value": [1.5, 2.5]})
        self.next(self.change)

    @step
    def change(self):
        self.a_counter.bump()
        self.a_set.add(4)
        self.a_point = Point(self.a_point.x * self.SCALE, self.a_point.y)
        self.a_frame["value"] = self.a_frame["value"] * self.SCALE
        self.total = int(self.a_array.sum())
        self.next(self.end)

    @step
    def end(self):
        self.scale_seen = self.SCALE


if __name__ == "__main__":
    ArtifactTypesFlow()
