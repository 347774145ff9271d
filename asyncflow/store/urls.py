"""Store URLs: which blob store and which metadata store a datastore opens.

A datastore is a local directory (the default, ``.asyncflow``) or ``s3://bucket/prefix``;
metadata is SQLite (``sqlite:///path/metadata.db``, the default: beside a local
datastore's blobs) or ``postgresql://user@host/db``. Any mix works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..exceptions import DatastoreError

__all__ = [
    "DATASTORE_ENV",
    "METADATA_ENV",
    "ROOT_DIRNAME",
    "StoreLocation",
    "StoreURLs",
    "resolve_root",
    "resolve_urls",
]

ROOT_DIRNAME = ".asyncflow"
DATASTORE_ENV = "ASYNCFLOW_DATASTORE"
METADATA_ENV = "ASYNCFLOW_METADATA"

_POSTGRES = ("postgresql", "postgres")


@dataclass(frozen=True)
class StoreURLs:
    """Where a datastore's blobs and metadata live, both resolved (absolute).

    ``Datastore.open(urls.datastore, metadata=urls.metadata)`` opens the same stores
    from any process that can reach them.
    """

    datastore: str
    metadata: str

    @property
    def blobs_are_local(self) -> bool:
        """Whether the blobs are files in a local directory."""
        return not self.datastore.startswith("s3://")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when metadata is SQLite."""
        if not self.metadata.startswith("sqlite:"):
            return None
        return Path(urlsplit(self.metadata).path)

    def __str__(self) -> str:
        return f"{self.datastore} (metadata: {_redacted(self.metadata)})"


#: What a ``root=`` argument accepts: a directory, a datastore URL, or resolved URLs.
StoreLocation = str | os.PathLike[str] | StoreURLs


def resolve_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The local datastore root: ``explicit``, else ``$ASYNCFLOW_HOME``, else the nearest
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


def resolve_urls(datastore: StoreLocation | None = None, metadata: str | None = None) -> StoreURLs:
    """Resolve a datastore location and a metadata URL, each defaulting to its environment
    variable (``$ASYNCFLOW_DATASTORE``, ``$ASYNCFLOW_METADATA``), then to the local store.

    Without a metadata URL, metadata is the SQLite database of the local root: inside a
    local datastore, or the default local root (see :func:`resolve_root`) beside S3 blobs.
    """
    if isinstance(datastore, StoreURLs):
        return datastore if metadata is None else StoreURLs(datastore.datastore, metadata)
    where = os.fspath(datastore) if datastore is not None else os.environ.get(DATASTORE_ENV)
    blobs = _datastore_url(where or None)
    meta = metadata or os.environ.get(METADATA_ENV) or "local"
    if meta == "local":
        root = resolve_root(None) if blobs.startswith("s3://") else Path(blobs)
        return StoreURLs(blobs, f"sqlite://{root / 'metadata.db'}")
    return StoreURLs(blobs, _metadata_url(meta))


def _datastore_url(where: str | None) -> str:
    if where is None:
        return str(resolve_root(None))
    scheme = urlsplit(where).scheme
    if scheme == "s3":
        parts = urlsplit(where)
        if not parts.netloc:
            raise DatastoreError(f"datastore URL {where!r} names no bucket (s3://bucket/prefix)")
        prefix = parts.path.strip("/")
        return f"s3://{parts.netloc}/{prefix}" if prefix else f"s3://{parts.netloc}"
    if scheme == "file":
        return str(Path(urlsplit(where).path).absolute())
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise DatastoreError(
            f"datastore {where!r}: unknown scheme {scheme!r} (use a directory or s3://bucket/prefix)"
        )
    return str(resolve_root(where))


def _metadata_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in _POSTGRES:
        return url
    if scheme == "sqlite":
        path = urlsplit(url).path
        if not path:
            raise DatastoreError(f"metadata URL {url!r} names no file (sqlite:///path/to/db)")
        return f"sqlite://{Path(path).absolute()}"
    raise DatastoreError(
        f"metadata {_redacted(url)!r} is not 'local', a sqlite:///path/metadata.db URL "
        "or a postgresql://user@host/db URL"
    )


def _redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
