"""cloudpickle: the fallback for any value, with out-of-band buffers (pickle protocol 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from serializers.base import Buffer, Serialized, Serializer

if TYPE_CHECKING:
    import pickle

__all__ = ["ALIGNMENT", "CloudpickleSerializer"]

#: Out-of-band buffers start at multiples of this many bytes from the blob start.
ALIGNMENT = 64


class CloudpickleSerializer(Serializer):
    """Any picklable value (functions and classes too), tried last.

    Large buffers inside the value (NumPy arrays, Arrow buffers, PickleBuffer)
    are written out of band, uncopied, each 64-byte aligned. Loading hands them
    to the value as slices of the given buffer: arrays inside the loaded value
    view the blob directly (read-only when the blob is a read-only memory map).
    Loading runs code, hence ``executes_code = True``.
    """

    encoding: ClassVar[str] = "cloudpickle/1"
    priority: ClassVar[int] = -1_000_000
    executes_code: ClassVar[bool] = True

    def can_serialize(self, obj: Any) -> bool:
        """Always true: failures to pickle surface from :meth:`serialize`."""
        return True

    def serialize(self, obj: Any) -> Serialized:
        """Pickle ``obj``; the pickle stream first, then each out-of-band buffer."""
        import cloudpickle  # imported by the first value that needs it, not by readers

        out_of_band: list[pickle.PickleBuffer] = []
        stream = cloudpickle.dumps(obj, protocol=5, buffer_callback=out_of_band.append)
        buffers: list[Buffer] = [stream]
        layout: list[list[int]] = []
        offset = len(stream)
        for pickled in out_of_band:
            raw = pickled.raw()
            pad = -offset % ALIGNMENT
            if pad:
                buffers.append(bytes(pad))
                offset += pad
            buffers.append(raw)
            layout.append([offset, raw.nbytes])
            offset += raw.nbytes
        return Serialized(buffers, {"pickle_size": len(stream), "out_of_band": layout})

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """Unpickle; out-of-band buffers are zero-copy slices of ``buffer``."""
        import pickle  # on first load: the registry imports this module to rank it

        stream = buffer[: metadata["pickle_size"]]
        out_of_band = [buffer[start : start + size] for start, size in metadata["out_of_band"]]
        return pickle.loads(stream, buffers=out_of_band)
