"""A contract test kit for serializer authors.

Inherit :class:`SerializerContract` in a pytest class, point it at your
serializer and samples, and every ``test_*`` method below checks the contract::

    from serializers.testing import SerializerContract

    class TestFractions(SerializerContract):
        serializer = FractionSerializer()
        values = [Fraction(1, 3), Decimal("1.10")]
        declined = [1.5, "1/3"]
"""

from __future__ import annotations

import json
import math
import mmap
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from serializers.base import Buffer, Serializer
from serializers.errors import Declined, UnserializableError
from serializers.registry import Registry

__all__ = ["SerializerContract", "assert_same", "join_buffers", "read_only_map"]

_ENCODING = re.compile(r"[a-z0-9][a-z0-9._+-]*/[0-9]+")
_RESERVED_KEYS = frozenset({"type", "size"})


def join_buffers(buffers: Sequence[Buffer]) -> bytes:
    """The concatenation of ``buffers``, as the engine would store it."""
    return b"".join(memoryview(buffer).cast("B") for buffer in buffers)


@contextmanager
def read_only_map(buffers: Sequence[Buffer]) -> Iterator[memoryview]:
    """The buffers written to a temporary file and mapped read-only, as the engine reads blobs."""
    with tempfile.TemporaryFile() as file:
        for buffer in buffers:
            file.write(buffer)
        file.flush()
        if file.tell() == 0:
            # mmap refuses empty files; an empty read-only view is equivalent.
            yield memoryview(b"")
            return
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        yield memoryview(mapped)
        # Loaded values may still view the map; it is freed with its last user.


def assert_same(actual: Any, expected: Any, path: str = "value") -> None:
    """Assert equality with the same types all the way down (NaN equals NaN, -0.0 != 0.0)."""
    assert type(actual) is type(expected), (
        f"{path}: type {type(actual).__qualname__} != {type(expected).__qualname__}"
    )
    if isinstance(expected, list | tuple):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert len(actual) == len(expected), f"{path}: {len(actual)} keys != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual.items(), expected.items(), strict=True)):
            assert_same(a[0], e[0], f"{path}.keys()[{i}]")
            assert_same(a[1], e[1], f"{path}[{e[0]!r}]")
    elif isinstance(expected, float):
        same = (math.isnan(actual) and math.isnan(expected)) or (
            actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
        )
        assert same, f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


class SerializerContract:
    """Mixin of contract tests; set ``serializer``, ``values`` and ``declined``.

    ``values`` must round-trip through the serializer alone, through a
    :class:`~serializers.registry.Registry`, and from a read-only memory map
    with metadata that went through JSON. ``declined`` must be refused
    (``can_serialize`` false, or :class:`~serializers.errors.Declined`).
    Override :meth:`assert_equal` for values ``==`` cannot compare.
    """

    serializer: ClassVar[Serializer]
    values: ClassVar[Sequence[Any]] = ()
    declined: ClassVar[Sequence[Any]] = ()

    def assert_equal(self, actual: Any, expected: Any) -> None:
        """Assert ``actual`` is the round trip of ``expected``; same type required."""
        assert_same(actual, expected)

    def test_encoding_is_versioned(self) -> None:
        encoding = self.serializer.encoding
        assert _ENCODING.fullmatch(encoding), f"encoding {encoding!r} is not like 'name/1'"

    def test_has_samples(self) -> None:
        assert self.values, "give at least one sample value"

    def test_values_are_accepted(self) -> None:
        for i, value in enumerate(self.values):
            assert self.serializer.can_serialize(value), f"values[{i}] not accepted"

    def test_round_trip(self) -> None:
        for i, value in enumerate(self.values):
            result = self.serializer.serialize(value)
            back = self.serializer.deserialize(
                memoryview(join_buffers(result.buffers)), result.metadata
            )
            self._check(back, value, i)

    def test_round_trip_through_registry(self) -> None:
        registry = Registry([self.serializer], plugins=False)
        for i, value in enumerate(self.values):
            encoded = registry.serialize(value, artifact=f"values[{i}]", step="contract")
            assert encoded.encoding == self.serializer.encoding
            buffer = memoryview(join_buffers(encoded.buffers))
            back = registry.deserialize(encoded.encoding, buffer, encoded.metadata)
            self._check(back, value, i)

    def test_round_trip_from_read_only_map(self) -> None:
        registry = Registry([self.serializer], plugins=False)
        for i, value in enumerate(self.values):
            encoded = registry.serialize(value)
            stored = json.loads(json.dumps(encoded.metadata))
            with read_only_map(encoded.buffers) as view:
                assert view.readonly
                back = registry.deserialize(encoded.encoding, view, stored)
                self._check(back, value, i)
                del back

    def test_metadata_is_json_compatible(self) -> None:
        for i, value in enumerate(self.values):
            metadata = self.serializer.serialize(value).metadata
            assert json.loads(json.dumps(metadata)) == metadata, f"values[{i}]: {metadata!r}"
            reserved = _RESERVED_KEYS & metadata.keys()
            assert not reserved, f"values[{i}]: keys {sorted(reserved)} are set by the registry"

    def test_registry_records_type_and_size(self) -> None:
        registry = Registry([self.serializer], plugins=False)
        for value in self.values:
            encoded = registry.serialize(value)
            cls = type(value)
            assert encoded.metadata["type"] == f"{cls.__module__}.{cls.__qualname__}"
            assert encoded.size == len(join_buffers(encoded.buffers))

    def test_declined_values(self) -> None:
        registry = Registry([self.serializer], plugins=False)
        for i, value in enumerate(self.declined):
            assert _refuses(self.serializer, value), f"declined[{i}] was accepted: {value!r}"
            try:
                registry.serialize(value)
            except UnserializableError:
                continue
            raise AssertionError(f"declined[{i}] was serialized by the registry: {value!r}")

    def test_deserialize_is_repeatable(self) -> None:
        for i, value in enumerate(self.values):
            result = self.serializer.serialize(value)
            buffer = memoryview(join_buffers(result.buffers))
            self.serializer.deserialize(buffer, result.metadata)
            self._check(self.serializer.deserialize(buffer, result.metadata), value, i)

    def _check(self, back: Any, value: Any, index: int) -> None:
        assert type(back) is type(value), (
            f"values[{index}]: came back as {type(back).__qualname__}, "
            f"not {type(value).__qualname__}"
        )
        self.assert_equal(back, value)


def _refuses(serializer: Serializer, value: Any) -> bool:
    if not serializer.can_serialize(value):
        return True
    try:
        serializer.serialize(value)
    except Declined:
        return True
    return False
