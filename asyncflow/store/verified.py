"""Verified reads: the bytes of an artifact are checked against their key before decoding.

This is the layer between any :class:`~asyncflow.store.blobs.BlobStore` and the
decoders, so every backend gets the same guarantee: a load returns the bytes
that hash to the artifact's key, or raises :class:`CorruptedBlobError` naming
the artifact. What is checked when:

- every read: the size, against the artifact record;
- every read of a value under :data:`~asyncflow.store.blobs.MMAP_THRESHOLD`
  (inline values and small blob files): the full BLAKE3 hash;
- a large (memory-mapped) blob: the full hash on its first load in a process,
  through the map (no copy, all cores); later loads trust that check while the
  backend's ``stamp(key)`` (:meth:`LocalBlobStore.stamp`; a backend without one
  is hashed on every load) is
  unchanged (for files: inode, size and mtime), so a file rewritten or replaced
  since is hashed again. ``always=True`` (``ASYNCFLOW_VERIFY_READS=1``) hashes
  on every load instead.

Why not stay lazy: a memory map hands Arrow and NumPy the pages themselves, and
nothing can check a page when the decoder touches it; a hash tree would still
have to hash whatever a read touches, which for a zero-copy table is unknown.
Hashing once per process costs about one read of the blob from the page cache
(``benchmarks/trust_costs.py``), and it is what makes a step that only reads a
corrupted value fail instead of storing the damage again under a new, valid hash.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from ..exceptions import CorruptedBlobError
from ..wording import plural
from .blobs import MMAP_THRESHOLD, content_key

__all__ = ["ReadVerifier"]


class ReadVerifier:
    """Checks views against their keys; remembers large blobs already hashed. Thread-safe."""

    def __init__(self, *, always: bool = False) -> None:
        self.always = always
        self._hashed: dict[str, Hashable] = {}
        self._lock = threading.Lock()

    def check(
        self, view: memoryview, key: str, size: int, where: str, stamp: Hashable | None = None
    ) -> None:
        """Raise :class:`CorruptedBlobError` unless ``view`` is ``size`` bytes hashing to
        ``key``; ``stamp`` identifies the stored version (None: unknown, always hash)."""
        if view.nbytes != size:
            raise CorruptedBlobError(
                key, f"corrupted: {plural(view.nbytes, 'byte')} on disk, {size} expected", where
            )
        if self._trusted(key, view.nbytes, stamp):
            return
        if content_key([view]) != key:
            raise CorruptedBlobError(key, "corrupted: its content does not match its hash", where)
        if stamp is not None and view.nbytes >= MMAP_THRESHOLD:
            with self._lock:
                self._hashed[key] = stamp

    def _trusted(self, key: str, nbytes: int, stamp: Hashable | None) -> bool:
        if self.always or stamp is None or nbytes < MMAP_THRESHOLD:
            return False
        with self._lock:
            return self._hashed.get(key) == stamp

    def forget(self, key: str) -> None:
        """Hash ``key`` again on its next load."""
        with self._lock:
            self._hashed.pop(key, None)
