from __future__ import annotations

import collections
import enum

from serializers import MsgpackSerializer
from serializers.testing import SerializerContract


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def _cycle() -> list[object]:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    return cyclic


class TestMsgpackContract(SerializerContract):
    serializer = MsgpackSerializer()
    values = [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        float("nan"),
        -0.0,
        "",
        "héllo",
        b"",
        b"\x00\xff",
        [],
        {},
        [1, [2.0, [None, "x"]], {"k": b"v"}],
        {"a": 1, 2: "b", 3.5: None, None: [True], b"k": {False: 0}},
    ]
    declined = [
        (1, 2),
        {1, 2},
        frozenset(),
        Color.RED,
        Name("x"),
        2**64,
        -(2**63) - 1,
        bytearray(b"x"),
        [bytearray(b"x")],
        {"k": [memoryview(b"x")]},
        [(1,)],
        {"k": {1}},
        collections.OrderedDict(a=1),
        [collections.defaultdict(list)],
        "\ud800",
        [1j],
        _cycle(),
        object(),
    ]
