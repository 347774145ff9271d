"""NumPy: numeric, bool and datetime arrays as their raw bytes plus dtype, shape and order."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from serializers.base import Serialized, Serializer
from serializers.errors import Declined

__all__ = ["NumpySerializer"]

# bool, signed/unsigned int, float, complex, timedelta, datetime.
_RAW_KINDS = frozenset("biufcmM")


class NumpySerializer(Serializer):
    """``numpy.ndarray`` (exactly, not subclasses) of a fixed-size, object-free dtype.

    The blob is the array's bytes in memory order (C or Fortran; other layouts
    are made contiguous first). Loading never copies: the array returned views
    the given buffer, so it is read-only when that buffer is a read-only
    memory map. Object, string and structured arrays are declined.
    """

    encoding: ClassVar[str] = "numpy/1"
    priority: ClassVar[int] = 90

    def can_serialize(self, obj: Any) -> bool:
        """Whether ``obj`` is an ndarray, without importing NumPy."""
        numpy = sys.modules.get("numpy")
        return numpy is not None and type(obj) is numpy.ndarray

    def serialize(self, obj: Any) -> Serialized:
        """The array's bytes (no copy when contiguous) and dtype, shape, order."""
        import numpy as np

        if obj.dtype.kind not in _RAW_KINDS:
            raise Declined(f"dtype {obj.dtype} is not a raw numeric, bool or datetime dtype")
        order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
        if not (obj.flags.c_contiguous or obj.flags.f_contiguous):
            obj = np.ascontiguousarray(obj)
        flat = obj.reshape(-1, order=order).view(np.uint8)
        metadata = {"dtype": obj.dtype.str, "shape": list(obj.shape), "order": order}
        return Serialized([flat], metadata)

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """A view of ``buffer`` as the stored array (zero-copy)."""
        import numpy as np

        dtype = np.dtype(metadata["dtype"])
        shape = tuple(metadata["shape"])
        count = 1
        for n in shape:
            count *= n
        flat = np.frombuffer(buffer, dtype=dtype, count=count)
        return flat.reshape(shape, order=metadata["order"])

    def read_rows(self, source: Any, metadata: dict[str, Any], start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop`` (along the first axis) of the stored array. ``source``
        is the blob (a buffer: a zero-copy view) or a random-access file over it (only
        those rows' bytes are read; a Fortran-ordered array is read whole)."""
        import numpy as np

        dtype, shape = np.dtype(metadata["dtype"]), tuple(metadata["shape"])
        if not shape:
            raise ValueError("a 0-d array has no rows")
        start, stop, _ = slice(start, stop).indices(shape[0])
        stop = max(start, stop)
        if metadata["order"] != "C":
            whole = source if isinstance(source, memoryview) else memoryview(source.read())
            return self.deserialize(whole, metadata)[start:stop]
        row = dtype.itemsize
        for n in shape[1:]:
            row *= n
        if isinstance(source, memoryview):
            data: Any = source[start * row : stop * row]
        else:
            source.seek(start * row)
            data = source.read((stop - start) * row)
        return np.frombuffer(data, dtype=dtype).reshape((stop - start, *shape[1:]))
