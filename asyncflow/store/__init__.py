"""Storage: content-addressed blobs, metadata, and the datastore tying them together."""

from __future__ import annotations

from .blobs import BlobStore, LocalBlobStore, content_key
from .datastore import Datastore, resolve_root
from .metadata import MetadataStore, SQLiteMetadataStore
from .records import (
    ArtifactRef,
    AttemptRecord,
    CardRecord,
    RunRecord,
    StepStats,
    TaskRecord,
)
from .urls import StoreLocation, StoreURLs, resolve_urls

__all__ = [
    "ArtifactRef",
    "AttemptRecord",
    "BlobStore",
    "CardRecord",
    "Datastore",
    "LocalBlobStore",
    "MetadataStore",
    "RunRecord",
    "SQLiteMetadataStore",
    "StepStats",
    "StoreLocation",
    "StoreURLs",
    "TaskRecord",
    "content_key",
    "resolve_root",
    "resolve_urls",
]
