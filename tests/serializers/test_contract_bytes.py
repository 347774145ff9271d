from __future__ import annotations

from typing import Any

import pytest

from serializers import BytesSerializer, Registry, _copying
from serializers._bytes import MIN_SIZE
from serializers.testing import SerializerContract, assert_same

_MIB = MIN_SIZE
_pattern = bytes(range(256)) * (_MIB // 256)


class Name(str):
    pass


class TestBytesContract(SerializerContract):
    serializer = BytesSerializer()
    values = [
        _pattern,
        bytearray(_pattern),
        memoryview(_pattern),
        memoryview(_pattern).cast("I", [len(_pattern) // 16, 4]),
        "ascii text " * (_MIB // 10),
        "é, ж, 🙂 and a lone \ud800 " * (_MIB // 20),
        (_pattern, b"", _pattern[:7]),
        [_pattern, _pattern],
    ]
    declined = [
        b"small",
        "small",
        bytearray(10),
        memoryview(_pattern * 2)[::2],  # not contiguous
        (_pattern, "text"),
        (),
        [1, 2, 3],
        Name("x" * _MIB),
        (bytearray(_pattern),),
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        if isinstance(expected, memoryview):
            assert (actual.format, actual.shape) == (expected.format, expected.shape)
            assert actual.tobytes() == expected.tobytes()
        else:
            assert_same(actual, expected)


def test_large_values_go_past_msgpack_and_small_ones_stay() -> None:
    registry = Registry()
    assert registry.serialize(_pattern).encoding == "bytes/1"
    assert registry.serialize("x" * _MIB).encoding == "bytes/1"
    assert registry.serialize((_pattern,)).encoding == "bytes/1"
    assert registry.serialize(b"x" * (_MIB - 1)).encoding == "msgpack/1"
    assert registry.serialize([b"x", b"y"]).encoding == "msgpack/1"


def test_copies_are_made_without_the_gil_here() -> None:
    # the raw-buffer path's point; on an interpreter where this fails it copies plainly
    assert _copying.available()


@pytest.mark.parametrize("text", ["a" * 10, "é" * 10, "x" * (2 * 1024 * 1024 + 3) + "é"])
def test_str_decoded_in_slices_comes_back_whole(text: str) -> None:
    from serializers._bytes import _to_str

    encoded = text.encode("utf-8")
    assert _to_str(memoryview(encoded), ascii=False) == text
