"""Turn Python values into buffers plus metadata, and back; pluggable, free of flows."""

from __future__ import annotations

from serializers._arrow import ArrowSerializer
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
