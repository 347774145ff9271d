"""Turn Python values into buffers plus metadata, and back; pluggable, free of flows.

Public names load on first use (see ``_HOMES``), so reading one msgpack value does not
import cloudpickle or scan entry points.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from serializers._arrow import ArrowSerializer
    from serializers._bytes import BytesSerializer
    from serializers._msgpack import MsgpackSerializer
    from serializers._numpy import NumpySerializer
    from serializers._pickle import CloudpickleSerializer
    from serializers.base import Encoded, Serialized, Serializer
    from serializers.errors import (
        Declined,
        DeserializationError,
        DuplicateEncodingError,
        LoadError,
        PickleNotAllowedError,
        SerializationError,
        SerializerPluginWarning,
        UnknownEncodingError,
        UnserializableError,
    )
    from serializers.registry import Registry, builtin_serializers, default_registry

__all__ = [
    "ArrowSerializer",
    "BytesSerializer",
    "CloudpickleSerializer",
    "Declined",
    "DeserializationError",
    "DuplicateEncodingError",
    "Encoded",
    "LoadError",
    "MsgpackSerializer",
    "NumpySerializer",
    "PickleNotAllowedError",
    "Registry",
    "SerializationError",
    "Serialized",
    "Serializer",
    "SerializerPluginWarning",
    "UnknownEncodingError",
    "UnserializableError",
    "builtin_serializers",
    "default_registry",
]

#: Where each public name lives.
_HOMES = {
    "ArrowSerializer": "serializers._arrow",
    "BytesSerializer": "serializers._bytes",
    "CloudpickleSerializer": "serializers._pickle",
    "Declined": "serializers.errors",
    "DeserializationError": "serializers.errors",
    "DuplicateEncodingError": "serializers.errors",
    "Encoded": "serializers.base",
    "LoadError": "serializers.errors",
    "MsgpackSerializer": "serializers._msgpack",
    "NumpySerializer": "serializers._numpy",
    "PickleNotAllowedError": "serializers.errors",
    "Registry": "serializers.registry",
    "SerializationError": "serializers.errors",
    "Serialized": "serializers.base",
    "Serializer": "serializers.base",
    "SerializerPluginWarning": "serializers.errors",
    "UnknownEncodingError": "serializers.errors",
    "UnserializableError": "serializers.errors",
    "builtin_serializers": "serializers.registry",
    "default_registry": "serializers.registry",
}


if not typing.TYPE_CHECKING:  # mypy reads the imports above, and flags unknown names

    def __getattr__(name: str) -> typing.Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'serializers' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_HOMES})
