"""Property tests: msgpack takes exactly the values it round-trips; the registry round-trips all."""

from __future__ import annotations

import collections
import enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from serializers import MsgpackSerializer, Registry
from serializers.testing import assert_same, join_buffers

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Tag(str):
    pass


exact_scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, UINT64_MAX)
    | st.floats()
    | st.text()
    | st.binary()
)
exact_values = st.recursive(
    exact_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(exact_scalars, children, max_size=5)
    ),
    max_leaves=30,
)

hashable_odd = (
    st.integers(UINT64_MAX + 1, 2**80)
    | st.integers(-(2**80), INT64_MIN - 1)
    | st.sampled_from([Level.LOW, Level.HIGH])
    | st.text(max_size=3).map(Tag)
    | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
    | st.tuples(st.integers(), st.text(max_size=3))
    | st.frozensets(st.integers(), max_size=3)
)
odd_scalars = (
    hashable_odd | st.binary(max_size=5).map(bytearray) | st.complex_numbers(allow_nan=False)
)
any_scalars = exact_scalars | odd_scalars
any_values = st.recursive(
    any_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.sets(st.integers() | st.text(max_size=3) | hashable_odd, max_size=3)
        | st.dictionaries(exact_scalars | hashable_odd, children, max_size=4)
        | st.dictionaries(st.text(max_size=3), children, max_size=3).map(collections.OrderedDict)
    ),
    max_leaves=20,
)


def is_exact(value: Any) -> bool:
    """Reference model of what msgpack/1 must accept."""
    kind = type(value)
    if kind in (type(None), bool, float, bytes):
        return True
    if kind is int:
        return bool(INT64_MIN <= value <= UINT64_MAX)
    if kind is str:
        return _encodes(value)
    if kind is list:
        return all(is_exact(item) for item in value)
    if kind is dict:
        return all(is_exact(k) and is_exact(v) for k, v in value.items())
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


serializer = MsgpackSerializer()
registry = Registry(plugins=False)


@given(exact_values)
@settings(max_examples=300)
def test_exact_values_round_trip_through_msgpack(value: Any) -> None:
    result = serializer.serialize(value)
    back = serializer.deserialize(memoryview(join_buffers(result.buffers)), result.metadata)
    assert_same(back, value)


@given(any_values)
@settings(max_examples=300)
def test_registry_uses_msgpack_exactly_for_exact_values(value: Any) -> None:
    encoded = registry.serialize(value, artifact="v", step="s")
    assert encoded.encoding == ("msgpack/1" if is_exact(value) else "cloudpickle/1")


@given(any_values)
@settings(max_examples=300)
def test_every_value_round_trips_exactly_through_the_registry(value: Any) -> None:
    encoded = registry.serialize(value)
    buffer = memoryview(join_buffers(encoded.buffers))
    assert_same(registry.deserialize(encoded.encoding, buffer, encoded.metadata), value)
