"""The datastore: blobs + metadata + the serializer registry, under one root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from serializers import Registry, SerializationError, default_registry

from ..exceptions import CorruptedBlobError, DatastoreError
from .blobs import MMAP_THRESHOLD, LocalBlobStore, content_key
from .metadata import SQLiteMetadataStore
from .records import ArtifactRef

ROOT_DIRNAME = ".asyncflow"

#: Encoded values up to this size live inline in the metadata database.
INLINE_THRESHOLD = 16 * 1024


def resolve_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The datastore root: ``explicit``, else ``$ASYNCFLOW_HOME``, else the nearest
    ``.asyncflow`` directory from the current directory upwards, else ``./.asyncflow``."""
    if explicit is not None:
        return Path(explicit).absolute()
    env = os.environ.get("ASYNCFLOW_HOME")
    if env:
        return Path(env).absolute()
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        candidate = folder / ROOT_DIRNAME
        if candidate.is_dir():
            return candidate
    return cwd / ROOT_DIRNAME


class Datastore:
    """Persists artifact values and loads them back; all methods block (use worker threads)."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        registry: Registry | None = None,
        fsync: bool = False,
        inline_threshold: int = INLINE_THRESHOLD,
    ) -> None:
        self.root = resolve_root(root)
        self.registry = registry or default_registry()
        self.inline_threshold = inline_threshold
        self.blobs = LocalBlobStore(self.root / "blobs", fsync=fsync)
        self.metadata = SQLiteMetadataStore(self.root / "metadata.db")

    def persist(self, name: str, value: Any, *, step: str | None = None) -> ArtifactRef:
        """Serialize ``value`` and store its bytes once, whatever name it has."""
        encoded = self.registry.serialize(value, artifact=name, step=step)
        key = content_key(encoded.buffers)
        size = encoded.size
        meta = dict(encoded.metadata)
        type_name = str(meta.get("type", type(value).__qualname__))
        if size <= self.inline_threshold:
            data = b"".join(memoryview(b).cast("B") for b in encoded.buffers)
            return ArtifactRef(name, key, encoded.encoding, size, type_name, meta, True, data)
        self.blobs.put(key, encoded.buffers)
        return ArtifactRef(name, key, encoded.encoding, size, type_name, meta, False)

    def read_bytes(
        self, ref: ArtifactRef, *, pathspec: str | None = None, writable: bool = False
    ) -> memoryview:
        """The stored bytes of an artifact, checked against its key and size.

        ``writable`` gives a private copy (copy-on-write for memory maps) that the
        decoded value may be changed through without touching the store.
        """
        where = f"{pathspec}/{ref.name}" if pathspec else ref.name
        if ref.inline:
            data = ref.data if ref.data is not None else self.metadata.get_inline(ref.key)
            if data is None:
                raise CorruptedBlobError(ref.key, "missing from the metadata database", where)
            view = memoryview(bytearray(data) if writable else data)
        else:
            try:
                view = self.blobs.get(ref.key, writable=writable)
            except CorruptedBlobError as exc:
                raise CorruptedBlobError(ref.key, exc.problem, where) from exc
        _check(view, ref, where)
        return view

    def load(self, ref: ArtifactRef, *, pathspec: str | None = None, writable: bool = False) -> Any:
        """Decode an artifact; a fresh object on every call (see :meth:`read_bytes`)."""
        view = self.read_bytes(ref, pathspec=pathspec, writable=writable)
        try:
            return self.registry.deserialize(ref.encoding, view, ref.metadata, artifact=ref.name)
        except SerializationError:
            raise
        except Exception as exc:  # a decoder choking on bytes we verified is still our error
            raise DatastoreError(f"cannot decode artifact '{ref.name}': {exc}") from exc


def _check(view: memoryview, ref: ArtifactRef, where: str) -> None:
    if view.nbytes != ref.size:
        raise CorruptedBlobError(
            ref.key, f"corrupted: {view.nbytes} bytes on disk, {ref.size} expected", where
        )
    # Small blobs are hashed on every read; large memory-mapped ones are checked by
    # size here and in full by `asyncflow verify`, so loads stay zero-copy.
    if view.nbytes < MMAP_THRESHOLD and content_key([view]) != ref.key:
        raise CorruptedBlobError(ref.key, "corrupted: its content does not match its hash", where)
