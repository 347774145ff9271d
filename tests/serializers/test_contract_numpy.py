from __future__ import annotations

from typing import Any

import numpy as np

from serializers import NumpySerializer
from serializers.testing import SerializerContract


class TestNumpyContract(SerializerContract):
    serializer = NumpySerializer()
    values = [
        np.arange(24, dtype="i8").reshape(2, 3, 4),
        np.asfortranarray(np.arange(12, dtype="f4").reshape(3, 4)),
        np.arange(20, dtype="u2").reshape(4, 5)[:, ::2],
        np.array(3.5),
        np.zeros((0, 3)),
        np.array([True, False]),
        np.array([1 + 2j], dtype="c16"),
        np.array([1, 2], dtype=">i4"),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        np.array([1, 2], dtype="timedelta64[s]"),
        np.array([np.nan, -0.0, np.inf], dtype="f2"),
    ]
    declined = [
        np.array([1, "a"], dtype=object),
        np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
        np.array(["ab", "c"]),
        np.array([b"ab"]),
        np.ma.masked_array([1, 2], mask=[False, True]),
        [1, 2],
        np.float64(1.0),
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        assert actual.dtype == expected.dtype
        assert actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)
        if expected.flags.f_contiguous and not expected.flags.c_contiguous:
            assert actual.flags.f_contiguous
