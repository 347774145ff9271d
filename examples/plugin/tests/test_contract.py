from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from asyncflow_fractions import FractionSerializer

from serializers.testing import SerializerContract


class TestFractionContract(SerializerContract):
    serializer = FractionSerializer()
    values = [
        Fraction(1, 3),
        Fraction(-(10**30), 7),
        Fraction(0),
        Decimal("1.10"),
        Decimal("-0"),
        Decimal("1E+1000"),
        Decimal("NaN"),
        Decimal("-Infinity"),
    ]
    declined = [1.5, "1/3", 3, [Fraction(1, 2)]]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        # Decimal("1.10") == Decimal("1.1") and NaN != NaN: compare the exact text.
        assert str(actual) == str(expected)
