"""Large bytes-like values as raw buffers: bytes, bytearray, memoryview, str, tuples of bytes.

msgpack packs and unpacks a value in one C call that holds the GIL: for a few hundred
megabytes that stops every other thread, the caller's event loop included, for a second
or more. Here the value's own buffers are written as they are (a ``str`` as UTF-8,
encoded a chunk at a time) and loading copies with the GIL released
(:mod:`serializers._copying`).
"""

from __future__ import annotations

import sys
from array import array
from typing import Any, ClassVar

from serializers.base import Buffer, Serialized, Serializer
from serializers.errors import Declined

__all__ = ["MIN_SIZE", "BytesSerializer"]

#: Smaller values are left to msgpack (which is faster for them, and keeps them inline).
MIN_SIZE = 1024 * 1024

_FLAT: dict[type, str] = {
    bytes: "bytes", bytearray: "bytearray", memoryview: "memoryview", str: "str"
}  # fmt: skip
_SEQUENCES: dict[type, str] = {tuple: "tuple", list: "list"}
# characters encoded per slice of a str: the GIL is held for one slice at a time
_STR_CHUNK = 1024 * 1024


class BytesSerializer(Serializer):
    """``bytes``, ``bytearray``, contiguous ``memoryview``, ``str`` and tuples or lists of
    ``bytes`` (exact types), from :data:`MIN_SIZE` bytes up, stored as their raw bytes.

    A ``str`` is stored as UTF-8 (lone surrogates kept, with ``surrogatepass``); a tuple
    or list as a table of lengths followed by its items. A loaded ``memoryview`` views the
    given buffer (zero-copy, read-only from a read-only map); every other type is a new
    object, copied without holding the GIL.
    """

    encoding: ClassVar[str] = "bytes/1"
    priority: ClassVar[int] = 110  # before msgpack, which takes the small ones

    def can_serialize(self, obj: Any) -> bool:
        """Whether ``obj`` is of one of the types above (its size is checked later)."""
        return type(obj) in _FLAT or type(obj) in _SEQUENCES

    def serialize(self, obj: Any) -> Serialized:
        """The value's buffers and its kind, or :class:`Declined` when small."""
        kind = _FLAT.get(type(obj)) or _SEQUENCES[type(obj)]
        if kind == "str":
            return _from_str(obj)
        if kind in _SEQUENCES.values():
            return _from_sequence(obj, kind)
        view = memoryview(obj)
        _check_size(view.nbytes)
        if kind != "memoryview":
            return Serialized([obj], {"kind": kind})
        if not view.c_contiguous:
            raise Declined("the memoryview is not contiguous")
        shape = list(view.shape or ())
        return Serialized([view.cast("B")], {"kind": kind, "format": view.format, "shape": shape})

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """The stored value: a new object, or for a memoryview a view of ``buffer``."""
        kind = metadata["kind"]
        if kind == "memoryview":
            return buffer.cast(metadata["format"], metadata["shape"])
        if kind == "str":
            return _to_str(buffer, ascii=metadata["ascii"])
        if kind in _SEQUENCES.values():
            items = _split(buffer, metadata["count"])
            return (tuple if kind == "tuple" else list)(_copy_bytes(item) for item in items)
        return _copy_bytearray(buffer) if kind == "bytearray" else _copy_bytes(buffer)


def _check_size(size: int) -> None:
    if size < MIN_SIZE:
        raise Declined(f"{size} bytes is below {MIN_SIZE}: msgpack takes it")


def _from_str(text: str) -> Serialized:
    # len() counts characters, each at least one byte of UTF-8: the cheap check first
    _check_size(len(text))
    chunks = [
        text[start : start + _STR_CHUNK].encode("utf-8", "surrogatepass")
        for start in range(0, len(text), _STR_CHUNK)
    ]
    return Serialized(chunks, {"kind": "str", "ascii": text.isascii()})


def _from_sequence(items: tuple[Any, ...] | list[Any], kind: str) -> Serialized:
    if not items or type(items[0]) is not bytes or not all(type(i) is bytes for i in items):
        raise Declined(f"only a {kind} of bytes is stored raw")
    lengths = array("Q", map(len, items))
    _check_size(sum(lengths))
    if sys.byteorder == "big":
        lengths.byteswap()
    buffers: list[Buffer] = [lengths, *items]
    return Serialized(buffers, {"kind": kind, "count": len(items)})


def _split(buffer: memoryview, count: int) -> list[memoryview]:
    lengths = array("Q")
    lengths.frombytes(buffer[: 8 * count])
    if sys.byteorder == "big":
        lengths.byteswap()
    items, start = [], 8 * count
    for length in lengths:
        items.append(buffer[start : start + length])
        start += length
    if start != buffer.nbytes:
        raise ValueError(f"the lengths add up to {start} bytes, the buffer has {buffer.nbytes}")
    return items


def _to_str(buffer: memoryview, *, ascii: bool) -> str:
    # _copying (and ctypes) only once a large value is loaded: the registry imports this
    # module whenever it ranks its serializers, so every run and read would pay for it
    from serializers import _copying

    if ascii and _copying.available():
        return _copying.new_ascii_str(buffer)
    # str(bytes) of a large buffer holds the GIL: decode a slice at a time (each slice
    # ends where a character ends), then join
    parts, start, size = [], 0, buffer.nbytes
    while start < size:
        end = min(start + _STR_CHUNK, size)
        while end < size and buffer[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        parts.append(str(buffer[start:end], "utf-8", "surrogatepass"))
        start = end
    return "".join(parts)


def _copy_bytes(buffer: memoryview) -> bytes:
    from serializers import _copying

    return _copying.new_bytes(buffer) if _copying.available() else bytes(buffer)


def _copy_bytearray(buffer: memoryview) -> bytearray:
    from serializers import _copying

    return _copying.new_bytearray(buffer) if _copying.available() else bytearray(buffer)
