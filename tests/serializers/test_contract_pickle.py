from __future__ import annotations

import dataclasses
import fractions
from typing import Any

import numpy as np

from serializers import CloudpickleSerializer
from serializers.testing import SerializerContract


@dataclasses.dataclass
class Model:
    name: str
    weights: np.ndarray[Any, Any]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Model)
            and self.name == other.name
            and self.weights.dtype == other.weights.dtype
            and np.array_equal(self.weights, other.weights)
        )


class TestCloudpickleContract(SerializerContract):
    serializer = CloudpickleSerializer()
    values = [
        (1, "a"),
        {1, 2},
        fractions.Fraction(1, 3),
        Model("m", np.arange(1000, dtype="f8")),
        Model("fortran", np.asfortranarray(np.ones((30, 40), dtype="i4"))),
        [Model("strided", np.arange(100)[::3]), b"x" * 100],
        np.array(["a", "b"], dtype=object),
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        if isinstance(expected, np.ndarray):
            assert actual.dtype == expected.dtype
            assert actual.tolist() == expected.tolist()
        else:
            assert actual == expected
