"""The ``--datastore-root`` and ``--metadata`` options both command lines share, and a flow
script's ``--fsync``."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .exceptions import DatastoreError
from .store.urls import resolve_urls

__all__ = ["FSYNC_OPTION", "store_options"]

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """Add ``--datastore-root`` and ``--metadata``; the command receives ``urls``
    (:class:`~asyncflow.store.StoreURLs`), resolved with the environment's defaults."""

    @functools.wraps(command)
    def wrapper(*args: Any, datastore_root: str | None, metadata: str | None, **kwargs: Any) -> Any:
        try:
            urls = resolve_urls(datastore_root, metadata)
        except DatastoreError as exc:
            raise click.UsageError(str(exc)) from exc
        return command(*args, urls=urls, **kwargs)

    with_metadata = click.option(
        "--metadata",
        default=None,
        metavar="URL",
        help="Where run metadata is kept: local (SQLite in the datastore root), "
        "sqlite:///path/metadata.db or postgresql://user@host/db "
        "(default: $ASYNCFLOW_METADATA, else local).",
    )(wrapper)
    return click.option(  # type: ignore[return-value]
        "--datastore-root",
        default=None,
        metavar="DIR|URL",
        help="Where artifacts are stored: a directory or s3://bucket/prefix (default: "
        "$ASYNCFLOW_DATASTORE, else $ASYNCFLOW_HOME, else the nearest .asyncflow directory).",
    )(with_metadata)


def _set_fsync(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    # The datastore reads its fsync default from the environment, which keeps this
    # option independent of how each command builds its Datastore.
    if value is not None:
        os.environ["ASYNCFLOW_FSYNC"] = "1" if value else "0"


FSYNC_OPTION = click.Option(
    ["--fsync/--no-fsync"],
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_set_fsync,
    help="fsync every blob and metadata commit (survives power loss; slower). "
    "Default: $ASYNCFLOW_FSYNC, else off.",
)
