"""Which values a task cannot change in place: those are never re-encoded to check."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from asyncflow.artifacts import is_immutable


@pytest.mark.parametrize(
    "value",
    [
        None, 1, 1.5, 2j, "text", b"bytes", range(3), Decimal("1.5"), Fraction(1, 3),
        datetime.date(2026, 1, 1), datetime.timedelta(1), (1, Decimal(2)),
        frozenset({Fraction(1, 2)}),
    ],
)  # fmt: skip
def test_immutable_values(value: Any) -> None:
    assert is_immutable(value)


@pytest.mark.parametrize("value", [[1], {}, {1}, bytearray(b"x"), (1, [2]), object()])
def test_values_that_may_change_in_place(value: Any) -> None:
    assert not is_immutable(value)
