"""Fresh ``bytes``, ``bytearray`` and ASCII ``str`` objects filled without holding the GIL.

``bytes(view)`` or ``view.decode()`` of a few hundred megabytes is one C call that holds
the GIL throughout (and pays every page fault of a memory map inside it): every other
thread, the caller's event loop included, stops for as long. Here the object is
allocated empty through the C API and filled by ``ctypes.memmove``, a foreign call that
releases the GIL, one chunk at a time. Where the C API is not what this expects
(another interpreter), :func:`available` is false and callers copy the plain way.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

__all__ = ["CHUNK", "available", "new_ascii_str", "new_bytearray", "new_bytes"]

#: Bytes copied per GIL-free call. Measured: the caller's loop lags in proportion to the
#: chunk (the first touch of fresh pages), 30-40 ms at 256 KiB against 60-100 at 4-64 MiB
#: with the machine loaded.
CHUNK = 256 * 1024


def _api(name: str, restype: Any, *argtypes: Any) -> Any:
    """A private handle on C API function ``name`` (called with the GIL held)."""
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


@functools.cache
def _functions() -> tuple[Any, Any, Any, Any, Any]:
    size = ctypes.c_ssize_t
    return (
        _api("PyBytes_FromStringAndSize", ctypes.py_object, ctypes.c_void_p, size),
        _api("PyBytes_AsString", ctypes.c_void_p, ctypes.py_object),
        _api("PyByteArray_FromStringAndSize", ctypes.py_object, ctypes.c_void_p, size),
        _api("PyUnicode_New", ctypes.py_object, size, ctypes.c_uint32),
        _api("PyUnicode_AsUTF8AndSize", ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p),
    )


class _Buffer(ctypes.Structure):
    """The C API's ``Py_buffer``, to learn where a (read-only too) buffer's bytes are."""

    _fields_ = [
        ("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]  # fmt: skip


def _fill(destination: int, view: memoryview) -> None:
    """Copy contiguous ``view`` to ``destination``, chunk by chunk, GIL released."""
    get, release = _buffer_functions()
    buffer = _Buffer()
    get(view, ctypes.byref(buffer), 0)  # PyBUF_SIMPLE: raises unless contiguous
    try:
        source, size = buffer.buf, buffer.len
        for start in range(0, size, CHUNK):
            ctypes.memmove(destination + start, source + start, min(CHUNK, size - start))
    finally:
        release(ctypes.byref(buffer))


@functools.cache
def _buffer_functions() -> tuple[Any, Any]:
    get = _api("PyObject_GetBuffer", ctypes.c_int, ctypes.py_object, ctypes.c_void_p, ctypes.c_int)
    return get, _api("PyBuffer_Release", None, ctypes.c_void_p)


def new_bytes(view: memoryview) -> bytes:
    """A ``bytes`` copy of ``view`` (contiguous, any size), made with the GIL released."""
    make, data, *_ = _functions()
    out: bytes = make(None, view.nbytes)
    _fill(data(out), view)
    return out


def new_bytearray(view: memoryview) -> bytearray:
    """A ``bytearray`` copy of ``view``, made with the GIL released."""
    _, _, make, *_ = _functions()
    data = _api("PyByteArray_AsString", ctypes.c_void_p, ctypes.py_object)
    out: bytearray = make(None, view.nbytes)
    if view.nbytes:  # an empty bytearray has no storage to write to
        _fill(data(out), view)
    return out


def new_ascii_str(view: memoryview) -> str:
    """The ``str`` whose characters are the ASCII bytes in ``view`` (not checked)."""
    *_, make, data = _functions()
    out: str = make(view.nbytes, 127)
    # a compact ASCII string's UTF-8 form is its own character data
    _fill(data(out, None), view)
    return out


@functools.cache
def available() -> bool:
    """Whether the copies above work in this interpreter (checked once, on small values)."""
    try:
        sample = memoryview(b"asyncflow" * 3)
        return (
            new_bytes(sample) == bytes(sample)
            and new_bytearray(sample) == bytearray(sample)
            and new_ascii_str(sample) == "asyncflow" * 3
            and hash(new_ascii_str(sample)) == hash("asyncflow" * 3)
        )
    except (AttributeError, OSError, TypeError, ValueError):
        return False
