"""msgpack: simple values (None, bool, int, float, str, bytes, lists and dicts of them)."""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import msgpack

from serializers.base import Serialized, Serializer
from serializers.errors import Declined

__all__ = ["MsgpackSerializer"]

_SCALARS = frozenset({type(None), bool, int, float, str, bytes})
_CONTAINERS = frozenset({list, dict})
# msgpack packs these even with strict_types, but they come back as other types.
_NOT_EXACT = frozenset({bytearray, memoryview, msgpack.ExtType, msgpack.Timestamp})
#: Deepest nesting of lists and dicts (empty ones count) the unpacker reads back; the
#: packer writes one level more, which could then never be loaded.
MAX_DEPTH = 1024


class MsgpackSerializer(Serializer):
    """Exact round trip of simple values, or a decline.

    Accepts exactly ``None``, ``bool``, ``int`` (-2**63 to 2**64-1), ``float``,
    ``str``, ``bytes``, and ``list``/``dict`` of them (keys too). Anything that
    would not come back with the same types all the way down — tuples, sets,
    subclasses such as ``IntEnum`` or ``OrderedDict``, big ints, bytearrays,
    strings with lone surrogates, cycles, lists and dicts nested deeper than
    :data:`MAX_DEPTH` — is declined.
    """

    encoding: ClassVar[str] = "msgpack/1"
    priority: ClassVar[int] = 100

    def can_serialize(self, obj: Any) -> bool:
        """Whether ``obj`` is of one of the exact types msgpack round-trips."""
        return type(obj) in _SCALARS or type(obj) in _CONTAINERS

    def serialize(self, obj: Any) -> Serialized:
        """Pack ``obj`` into one buffer, or raise :class:`Declined`."""
        try:
            packed = msgpack.packb(obj, use_bin_type=True, strict_types=True, default=_refuse)
        except (TypeError, ValueError, OverflowError) as exc:
            raise Declined(f"{type(exc).__name__}: {exc}") from exc
        problem = _structure_problem(obj) if type(obj) in _CONTAINERS else None
        if problem is not None:
            raise Declined(problem)
        return Serialized([packed], {})

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """Unpack the value (always a new object; nothing references ``buffer``)."""
        return msgpack.unpackb(buffer, raw=False, strict_map_key=False, use_list=True)


def _refuse(obj: Any) -> Any:
    raise TypeError(f"type {type(obj).__module__}.{type(obj).__qualname__} is not supported")


def _structure_problem(obj: Any) -> str | None:
    """Why a packed container would not come back as it is, or None."""
    # Runs after a successful pack, so the structure is finite and acyclic.
    # gc.get_referents walks a whole level of lists and dicts (keys and
    # values) in C, which is several times faster than a Python walk.
    level, depth = [obj], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return f"lists and dicts nested deeper than {MAX_DEPTH} levels cannot be read back"
        referents = gc.get_referents(*level)
        types = set(map(type, referents))
        if not types.isdisjoint(_NOT_EXACT):
            return "contains bytearray, memoryview or msgpack extension values"
        level = [r for r in referents if type(r) in _CONTAINERS]
    return None
