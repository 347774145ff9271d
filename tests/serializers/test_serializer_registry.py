from __future__ import annotations

import socket
import sys
import threading
from typing import Any, ClassVar

import pytest

import serializers
import serializers._entry_points as entry_points_module
import serializers.registry as registry_module
from serializers import (
    Declined,
    DeserializationError,
    DuplicateEncodingError,
    PickleNotAllowedError,
    Registry,
    SerializationError,
    Serialized,
    Serializer,
    SerializerPluginWarning,
    UnknownEncodingError,
    UnserializableError,
    builtin_serializers,
    default_registry,
)
from serializers._entry_points import EntryPoint
from serializers.testing import join_buffers


class Recorder(Serializer):
    """Accepts ints, counts calls, declines negative ones."""

    encoding: ClassVar[str] = "recorder/1"
    priority: ClassVar[int] = 10

    def __init__(self) -> None:
        self.asked = 0

    def can_serialize(self, obj: Any) -> bool:
        self.asked += 1
        return type(obj) is int

    def serialize(self, obj: Any) -> Serialized:
        if obj < 0:
            raise Declined("negative")
        return Serialized([str(obj).encode(), b"!"], {"digits": len(str(obj))})

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        return int(bytes(buffer[: metadata["digits"]]))


class Failing(Recorder):
    encoding: ClassVar[str] = "failing/1"
    priority: ClassVar[int] = 20

    def serialize(self, obj: Any) -> Serialized:
        raise RuntimeError("boom")

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        raise ValueError("corrupt")


class Unsafe(Recorder):
    encoding: ClassVar[str] = "unsafe/1"
    executes_code: ClassVar[bool] = True


def round_trip(registry: Registry, value: Any) -> Any:
    encoded = registry.serialize(value)
    buffer = memoryview(join_buffers(encoded.buffers))
    return registry.deserialize(encoded.encoding, buffer, encoded.metadata)


def test_builtins_are_tried_in_priority_order_with_cloudpickle_last() -> None:
    encodings = [s.encoding for s in Registry(plugins=False).serializers]
    assert encodings == ["bytes/1", "msgpack/1", "numpy/1", "arrow-ipc/1", "cloudpickle/1"]


def test_builtins_load_lazily_as_the_same_serializers() -> None:
    lazy = Registry(plugins=False)
    msgpack = lazy.get("msgpack/1")
    assert msgpack is not None and msgpack.encoding == "msgpack/1"
    assert set(lazy._by_encoding) == {"msgpack/1"}, "reading one encoding loads one built-in"
    assert round_trip(lazy, b"x" * 1000) == b"x" * 1000  # serializing loads them all
    eager = [(type(s), s.encoding) for s in builtin_serializers()]
    assert [(type(s), s.encoding) for s in lazy.serializers] == eager


def test_registered_serializers_are_sorted_by_priority() -> None:
    registry = Registry(plugins=False)
    registry.register(Recorder())
    encodings = [s.encoding for s in registry.serializers]
    assert encodings == [
        "bytes/1",
        "msgpack/1",
        "numpy/1",
        "arrow-ipc/1",
        "recorder/1",
        "cloudpickle/1",
    ]


def test_encoded_metadata_adds_type_and_size() -> None:
    encoded = Registry([Recorder()], plugins=False).serialize(1234)
    assert encoded.encoding == "recorder/1"
    assert encoded.metadata == {"digits": 4, "type": "builtins.int", "size": 5}
    assert encoded.size == 5
    assert [bytes(b) for b in encoded.buffers] == [b"1234", b"!"]


def test_choice_is_cached_per_type() -> None:
    recorder = Recorder()
    registry = Registry([recorder], plugins=False)
    for value in (1, 2, 3):
        assert round_trip(registry, value) == value
    assert recorder.asked == 1


def test_register_clears_the_cache() -> None:
    recorder = Recorder()
    registry = Registry([recorder], plugins=False)
    registry.serialize(1)
    registry.register(Failing())
    with pytest.raises(UnserializableError):
        registry.serialize(-1)
    assert recorder.asked == 2


def test_decline_falls_through_to_the_next_serializer() -> None:
    registry = Registry(plugins=False)
    registry.register(Recorder())
    encoded = registry.serialize(-5)
    assert encoded.encoding == "msgpack/1"
    registry2 = Registry([Recorder(), serializers.CloudpickleSerializer()], plugins=False)
    assert registry2.serialize(-5).encoding == "cloudpickle/1"
    assert registry2.serialize(5).encoding == "recorder/1"


def test_unserializable_error_names_artifact_step_type_and_reasons() -> None:
    registry = Registry(plugins=False)
    with socket.socket() as sock, pytest.raises(UnserializableError) as info:
        registry.serialize(sock, artifact="model", step="train")
    assert str(info.value) == (
        "cannot serialize artifact 'model' in step 'train': no serializer accepts a value "
        "of type 'socket.socket' (cloudpickle/1: TypeError: cannot pickle 'socket' object)"
    )
    assert info.value.artifact == "model"
    assert info.value.step == "train"
    assert info.value.type_name == "socket.socket"
    assert info.value.reasons == ["cloudpickle/1: TypeError: cannot pickle 'socket' object"]
    assert isinstance(info.value, SerializationError)


def test_unserializable_error_lists_every_refusal() -> None:
    registry = Registry([Failing(), Recorder()], plugins=False)
    with pytest.raises(UnserializableError) as info:
        registry.serialize(-1)
    assert str(info.value) == (
        "cannot serialize value: no serializer accepts a value of type 'builtins.int' "
        "(failing/1: RuntimeError: boom; recorder/1: declined: negative)"
    )


def test_unserializable_error_without_any_candidate() -> None:
    with pytest.raises(UnserializableError) as info:
        Registry([Recorder()], plugins=False).serialize("x", artifact="name")
    assert str(info.value) == (
        "cannot serialize artifact 'name': no serializer accepts a value of type 'builtins.str'"
    )


def test_unknown_encoding_error_points_at_plugins() -> None:
    with pytest.raises(UnknownEncodingError) as info:
        Registry(plugins=False).deserialize("fraction/1", memoryview(b""), {}, artifact="ratio")
    assert str(info.value) == (
        "cannot deserialize artifact 'ratio': no serializer for encoding 'fraction/1' is "
        "registered; install the plugin that provides it (plugins register through the "
        "entry-point group 'asyncflow.serializers') or call registry.register(...)"
    )
    assert (info.value.encoding, info.value.artifact) == ("fraction/1", "ratio")


def test_pickle_is_refused_when_not_allowed() -> None:
    encoded = Registry(plugins=False).serialize((1, 2))
    strict = Registry(plugins=False, allow_pickle=False)
    buffer = memoryview(join_buffers(encoded.buffers))
    with pytest.raises(PickleNotAllowedError) as info:
        strict.deserialize(encoded.encoding, buffer, encoded.metadata, artifact="pair")
    assert str(info.value) == (
        "refusing to deserialize artifact 'pair': its encoding 'cloudpickle/1' can run "
        "arbitrary code while loading, and this registry was created with allow_pickle=False; "
        "if you trust where the data comes from, load it with Registry(allow_pickle=True)"
    )
    assert (info.value.artifact, info.value.encoding) == ("pair", "cloudpickle/1")
    assert strict.serialize([1]).encoding == "msgpack/1"
    assert round_trip(strict, {"safe": [1]}) == {"safe": [1]}


def test_any_serializer_that_executes_code_is_refused() -> None:
    strict = Registry([Unsafe()], plugins=False, allow_pickle=False)
    encoded = strict.serialize(7)
    with pytest.raises(PickleNotAllowedError, match="'unsafe/1'"):
        strict.deserialize(encoded.encoding, memoryview(b"7!"), encoded.metadata)


def test_deserialization_error_wraps_the_cause() -> None:
    registry = Registry([Failing()], plugins=False)
    with pytest.raises(DeserializationError) as info:
        registry.deserialize("failing/1", memoryview(b""), {}, artifact="x")
    assert str(info.value) == (
        "cannot deserialize artifact 'x' with encoding 'failing/1': ValueError: corrupt"
    )
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.cause is info.value.__cause__
    assert info.value.encoding == "failing/1"


def test_duplicate_encoding_needs_replace() -> None:
    registry = Registry([Recorder()], plugins=False)
    with pytest.raises(DuplicateEncodingError) as info:
        registry.register(Recorder())
    assert str(info.value) == (
        "a serializer for encoding 'recorder/1' is already registered; "
        "pass replace=True to register() to override it"
    )
    replacement = Recorder()
    registry.register(replacement, replace=True)
    assert registry.get("recorder/1") is replacement


def test_deserialize_accepts_bytes_and_memoryview() -> None:
    registry = Registry(plugins=False)
    encoded = registry.serialize([1, "a"])
    data = join_buffers(encoded.buffers)
    assert registry.deserialize(encoded.encoding, data, encoded.metadata) == [1, "a"]


def test_default_registry_is_shared_and_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_default", None)
    first = default_registry()
    assert default_registry() is first
    assert isinstance(first, Registry)


def test_concurrent_use_from_many_threads() -> None:
    registry = Registry(plugins=False)
    values: list[Any] = [[i, str(i)] for i in range(50)] + [(i,) for i in range(50)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        try:
            for value in values:
                assert round_trip(registry, value) == value
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- plugins -------------------------------------------------------------


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="asyncflow.serializers")


BROKEN: Any = None


def make_recorder() -> Recorder:
    return Recorder()


def test_plugins_load_once_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        calls.append(group)
        return [_entry_point("recorder", f"{__name__}:Recorder")]

    monkeypatch.setattr(entry_points_module, "entry_points", fake_entry_points)
    registry = Registry(plugins=True)
    assert calls == []
    assert registry.serialize(3).encoding == "msgpack/1"
    assert registry.get("recorder/1") is not None
    registry.serialize(4)
    assert calls == ["asyncflow.serializers"]


def test_plugin_may_be_a_class_a_factory_or_an_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules[__name__].__dict__, "INSTANCE", Unsafe())
    points = [
        _entry_point("a", f"{__name__}:Recorder"),
        _entry_point("b", f"{__name__}:INSTANCE"),
        _entry_point("c", f"{__name__}:make_recorder"),
    ]
    monkeypatch.setattr(entry_points_module, "entry_points", lambda *, group: points)
    with pytest.warns(SerializerPluginWarning) as warned:
        registry = Registry([], plugins=True)
        assert [s.encoding for s in registry.serializers] == ["recorder/1", "unsafe/1"]
    assert [str(w.message) for w in warned] == [
        f"skipping serializer plugin 'c' ({__name__}:make_recorder): DuplicateEncodingError: "
        "a serializer for encoding 'recorder/1' is already registered; "
        "pass replace=True to register() to override it"
    ]


def test_broken_plugins_are_warned_about_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        _entry_point("missing", "no_such_module_xyz:Thing"),
        _entry_point("none", f"{__name__}:BROKEN"),
        _entry_point("good", f"{__name__}:Recorder"),
    ]
    monkeypatch.setattr(entry_points_module, "entry_points", lambda *, group: points)
    registry = Registry([], plugins=True)
    with pytest.warns(SerializerPluginWarning) as warned:
        assert registry.serialize(5).encoding == "recorder/1"
    assert [str(w.message) for w in warned] == [
        "skipping serializer plugin 'missing' (no_such_module_xyz:Thing): "
        "ModuleNotFoundError: No module named 'no_such_module_xyz'",
        f"skipping serializer plugin 'none' ({__name__}:BROKEN): "
        "TypeError: 'NoneType' object is not callable",
    ]


def test_plugins_false_ignores_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*, group: str) -> list[EntryPoint]:
        raise AssertionError("entry points were read")

    monkeypatch.setattr(entry_points_module, "entry_points", fail)
    assert Registry(plugins=False).serialize(1).encoding == "msgpack/1"


# __all__ of every serializers module: tests/test_public_api.py, shared with asyncflow.


def test_error_tree() -> None:
    assert issubclass(SerializationError, Exception)
    for error in (Declined, UnserializableError, DuplicateEncodingError, serializers.LoadError):
        assert issubclass(error, SerializationError)
    for load_error in (UnknownEncodingError, PickleNotAllowedError, DeserializationError):
        assert issubclass(load_error, serializers.LoadError)
    assert issubclass(SerializerPluginWarning, UserWarning)
