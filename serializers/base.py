"""The serializer contract: what every serializer, built-in or plugin, provides.

A serializer turns one Python object into a list of buffers plus a small,
JSON-compatible metadata dict, and turns the concatenation of those buffers
back into the object. It knows nothing about flows, steps or stores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["Buffer", "Encoded", "Serialized", "Serializer"]

#: Any object supporting the buffer protocol (bytes, bytearray, memoryview,
#: numpy arrays, pyarrow buffers, pickle.PickleBuffer, mmap ...).
Buffer = Any


@dataclass(frozen=True)
class Serialized:
    """What a serializer returns: buffers written back to back, and metadata.

    ``buffers`` are never joined by the caller: a large value is written to
    disk buffer by buffer. ``metadata`` must be JSON-compatible; it is stored
    with the artifact and handed back to ``deserialize``.
    """

    buffers: Sequence[Buffer]
    metadata: dict[str, Any] = field(default_factory=dict)


class Serializer(ABC):
    """Base class for serializers.

    ``encoding`` is a stable, versioned name (``"msgpack/1"``) stored with
    every artifact; it routes the read, so it must never change meaning.
    The registry tries serializers from the highest ``priority`` down.
    ``executes_code`` marks formats whose loading can run arbitrary code
    (pickle); a registry built with ``allow_pickle=False`` refuses to load them.
    """

    encoding: ClassVar[str]
    priority: ClassVar[int] = 0
    executes_code: ClassVar[bool] = False

    @abstractmethod
    def can_serialize(self, obj: Any) -> bool:
        """Cheap check, without importing optional libraries, whether ``obj`` may be ours."""

    @abstractmethod
    def serialize(self, obj: Any) -> Serialized:
        """Encode ``obj``; raise :class:`~serializers.errors.Declined` to let the next one try."""

    @abstractmethod
    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """Decode the concatenated buffers (possibly a read-only memory map)."""

    def deserialize_verified(
        self, buffer: memoryview, metadata: dict[str, Any], content: str
    ) -> Any:
        """Decode bytes the caller checked are the ones named ``content`` (their hash).

        The same name means the same bytes, so a serializer that validates untrusted
        input at a cost may remember what passed and skip it next time (Arrow IPC).
        By default, :meth:`deserialize`.
        """
        return self.deserialize(buffer, metadata)


@dataclass(frozen=True)
class Encoded:
    """A value encoded by the registry: the serializer's output plus its encoding.

    ``metadata`` holds the serializer's own keys plus ``type`` (the value's
    ``module.qualname``) and ``size`` (total bytes of ``buffers``).
    """

    encoding: str
    buffers: Sequence[Buffer]
    metadata: dict[str, Any]

    @property
    def size(self) -> int:
        """Total number of bytes in ``buffers``."""
        return int(self.metadata["size"])
