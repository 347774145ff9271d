"""Ranged reads: part of a large object-store blob, each byte fetched verified.

A value in an object store is not memory-mapped: loading it whole means downloading it
whole. A reader that needs only part of it (one column of an Arrow table, some rows of
an array) reads through :class:`RangedBlob`, a random-access file that fetches the
:data:`RANGE_CHUNK`-sized chunks a read touches, with one ranged GET per contiguous run.

The blob's key is the BLAKE3 hash of all of it, which a part cannot be checked against.
So when such a blob is written, the datastore also records the BLAKE3 digest of each
chunk (:func:`chunk_digests`) in the artifact's metadata, beside the key and as
trusted as it; every chunk fetched is hashed and compared with its digest before a
reader sees a byte of it (:class:`CorruptedBlobError` otherwise). A blob written
without digests (a local store's, or copied from one) is read whole instead.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import blake3

from ..exceptions import CorruptedBlobError
from ..wording import plural

__all__ = [
    "CHUNKS_FIELD",
    "RANGED_MIN",
    "RANGE_CHUNK",
    "RangeReader",
    "RangedBlob",
    "chunk_digests",
]

#: Digests cover chunks of this many bytes (the last may be shorter).
RANGE_CHUNK = 1 << 20

#: Blobs at least this large get chunk digests (smaller ones are read whole).
RANGED_MIN = 8 << 20

#: The artifact metadata field holding the chunk digests.
CHUNKS_FIELD = "_chunks"

_DIGEST_HEX = 64
_CACHED_CHUNKS = 16


class RangeReader(Protocol):
    """A blob store that can read part of a blob."""

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        """Bytes ``start`` to ``end`` of ``key``."""
        ...


def chunk_digests(buffers: Sequence[Any]) -> dict[str, Any]:
    """The metadata entry for the buffers written back to back: chunk size and the hex
    BLAKE3 digest of each chunk, concatenated."""
    digests: list[str] = []
    hasher = blake3.blake3()
    filled = 0
    for buf in buffers:
        view = memoryview(buf).cast("B")
        while view.nbytes:
            take = min(RANGE_CHUNK - filled, view.nbytes)
            hasher.update(view[:take])
            view, filled = view[take:], filled + take
            if filled == RANGE_CHUNK:
                digests.append(hasher.hexdigest())
                hasher, filled = blake3.blake3(), 0
    if filled:
        digests.append(hasher.hexdigest())
    return {"size": RANGE_CHUNK, "digests": "".join(digests)}


class RangedBlob(io.RawIOBase):
    """A read-only, seekable file over part-by-part verified ranged reads of one blob.

    :attr:`fetched` counts the bytes downloaded so far. Recently read chunks are kept
    (up to 16), so a reader going back over its last bytes fetches nothing new.
    """

    def __init__(
        self, blobs: RangeReader, key: str, size: int, chunks: dict[str, Any], where: str
    ) -> None:
        self._blobs, self._key, self._size, self._where = blobs, key, size, where
        self._chunk = int(chunks["size"])
        digests = str(chunks["digests"])
        count = -(-size // self._chunk)
        if len(digests) != count * _DIGEST_HEX:
            raise CorruptedBlobError(
                key, "corrupted: its chunk digests do not match its size", where
            )
        self._digests = [digests[i : i + _DIGEST_HEX] for i in range(0, len(digests), _DIGEST_HEX)]
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self.fetched = 0
        #: The damage found, kept because a reader (pyarrow) may wrap what it caught.
        self.damage: CorruptedBlobError | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def size(self) -> int:
        """The blob's size in bytes."""
        return self._size

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the current position (all the rest if ``n`` < 0)."""
        end = self._size if n < 0 else min(self._pos + n, self._size)
        if end <= self._pos:
            return b""
        data = self.read_at(self._pos, end)
        self._pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(memoryview(buffer).nbytes)
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def read_at(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end``, every chunk they touch verified."""
        first, last = start // self._chunk, (end - 1) // self._chunk
        chunks: dict[int, memoryview] = {
            i: memoryview(self._cache[i]) for i in range(first, last + 1) if i in self._cache
        }
        chunks.update(self._fetch([i for i in range(first, last + 1) if i not in chunks]))
        for i in range(max(first, last - _CACHED_CHUNKS + 1), last + 1):
            self._keep(i, chunks[i])
        head = start - first * self._chunk
        pieces = [chunks[i] for i in range(first, last + 1)]
        pieces[-1] = pieces[-1][: end - last * self._chunk]
        pieces[0] = pieces[0][head:]  # after the end is cut: right for one chunk too
        return b"".join(pieces)

    def _fetch(self, missing: list[int]) -> dict[int, memoryview]:
        """Download the missing chunks, one ranged GET per contiguous run; check each."""
        runs: list[list[int]] = []
        for i in missing:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        got: dict[int, memoryview] = {}
        for run in runs:
            start, end = run[0] * self._chunk, min((run[-1] + 1) * self._chunk, self._size)
            data = self._blobs.get_range(self._key, start, end)
            self.fetched += data.nbytes
            if data.nbytes != end - start:
                self._damaged(f"{plural(data.nbytes, 'byte')} at {start}, {end - start} expected")
            for j, i in enumerate(run):
                chunk = data[j * self._chunk : (j + 1) * self._chunk]
                if blake3.blake3(chunk).hexdigest() != self._digests[i]:
                    self._damaged(f"bytes {i * self._chunk}.. do not match their hash")
                got[i] = chunk
        return got

    def _damaged(self, problem: str) -> None:
        self.damage = CorruptedBlobError(self._key, f"corrupted: {problem}", self._where)
        raise self.damage

    def _keep(self, index: int, chunk: memoryview) -> None:
        if index in self._cache:
            self._cache.move_to_end(index)
            return
        self._cache[index] = bytes(chunk)
        while len(self._cache) > _CACHED_CHUNKS:
            self._cache.popitem(last=False)
