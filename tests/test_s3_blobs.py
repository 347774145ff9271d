"""The S3 blob store's writes against a real SeaweedFS: create-only, and the body is the
caller's buffers in slices, never a copy (peak memory asserted structurally)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import obstore
import pytest

from asyncflow.exceptions import DatastoreError
from asyncflow.store import s3 as s3_module
from asyncflow.store.blobs import CHUNK, content_key
from asyncflow.store.s3 import S3BlobStore

from .servers import S3Server


@pytest.fixture
def blobs(s3_server: S3Server) -> S3BlobStore:
    return S3BlobStore.from_url(s3_server.fresh_url())


class CountingPut:
    """obstore.put, recording every call's options and the chunks of its body."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[dict[str, Any], list[memoryview]]] = []
        self._real = obstore.put
        monkeypatch.setattr(obstore, "put", self)

    def __call__(self, store: Any, path: str, body: Iterator[memoryview], **options: Any) -> Any:
        chunks = list(body)
        self.calls.append((options, chunks))
        return self._real(store, path, iter(chunks), **options)


def test_a_large_value_goes_up_as_views_of_the_callers_buffers_in_one_create_only_put(
    blobs: S3BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = b"h" * 100
    array = np.arange((3 * CHUNK + 40) // 8, dtype=np.float64)  # three chunks and 40 bytes
    key = content_key([header, array])
    put = CountingPut(monkeypatch)
    assert blobs.put(key, [header, array])
    ((options, chunks),) = put.calls
    assert options["mode"] == "create" and options["use_multipart"] is False
    assert [c.nbytes for c in chunks] == [100, CHUNK, CHUNK, CHUNK, 40]
    # Every chunk views the caller's own buffers: nothing was joined or copied on the way.
    assert [c.obj is header for c in chunks] == [True, False, False, False, False]
    assert all(c.obj is array for c in chunks[1:])  # type: ignore[comparison-overlap]
    assert bytes(blobs.get(key)) == header + array.tobytes()


def test_a_stored_large_key_is_not_sent_again(
    blobs: S3BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.ones(3 * CHUNK // 8)
    key = content_key([data])
    assert blobs.put(key, [data])
    put = CountingPut(monkeypatch)
    assert blobs.put(key, [data]) is False
    assert put.calls == []


def test_racing_writers_of_one_key_never_replace_the_first_object(blobs: S3BlobStore) -> None:
    # Different bytes under one key (no honest writer does that): the object store, not a
    # look-up before the write, decides, so exactly one write wins and its bytes stay.
    key = "ab" * 32
    values = [bytes([i]) * (12 << 20) for i in range(8)]
    won: list[int] = []
    barrier = threading.Barrier(len(values))

    def write(i: int) -> None:
        barrier.wait()
        if blobs.put(key, [values[i]]):
            won.append(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(values))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert bytes(blobs.get(key)) == values[won[0]]
    assert blobs.put(key, [values[(won[0] + 1) % 8]]) is False
    assert bytes(blobs.get(key)) == values[won[0]]


def test_a_value_beyond_one_put_goes_up_in_parts_and_is_looked_up_first(
    blobs: S3BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "SINGLE_PUT_LIMIT", 2 * CHUNK)  # as if it were past 5 GiB
    data = np.arange(3 * CHUNK // 8, dtype=np.int64)
    key = content_key([data])
    put = CountingPut(monkeypatch)
    assert blobs.put(key, [data])
    ((options, chunks),) = put.calls
    assert "mode" not in options and options["chunk_size"] == s3_module.PART_SIZE
    assert all(c.obj is data for c in chunks)  # type: ignore[comparison-overlap]
    assert bytes(blobs.get(key)) == data.tobytes()
    assert blobs.put(key, [data]) is False and len(put.calls) == 1


def test_credentials_come_from_the_aws_variables_and_a_refusal_names_the_store(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3_server.fresh_url()
    S3BlobStore.from_url(url).put(content_key([b"ok"]), [b"ok"])  # the fixture's variables
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    problem = r"(signature|access ?denied|forbidden|403)"
    blobs = S3BlobStore.from_url(url)
    key = content_key([b"v" * 100])
    for touch in (
        lambda: blobs.put(key, [b"v" * 100]),
        lambda: blobs.get(key),
        lambda: blobs.stat(key),
        lambda: list(blobs.scan()),
        lambda: blobs.delete(key),
    ):
        with pytest.raises(DatastoreError, match=rf"(?i){re.escape(url)}: .*{problem}"):
            touch()
