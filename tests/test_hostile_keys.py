"""A hostile store: a planted blob key never becomes a path outside the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncflow.client import Task
from asyncflow.exceptions import DatastoreError
from asyncflow.store import ArtifactRef, Datastore, TaskRecord
from asyncflow.store.maintenance import verify


@pytest.mark.parametrize(
    "key",
    ["../../../../outside/secret", "/etc/passwd", "AB" * 32, "ab" * 31, "", "g" * 64, "ab" * 33],
)
def test_a_planted_key_never_becomes_a_path(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_bytes(b"s" * (2 << 20))
    store = Datastore(tmp_path / "store")
    run = store.metadata.create_run("F", "ann", {}, [], [])
    ref = ArtifactRef("x", key, "msgpack/1", 2 << 20, "builtins.bytes", {}, False)
    store.metadata.commit_task(TaskRecord("F", run.run_id, "s", 1, "successful"), [ref], {})
    with pytest.raises(DatastoreError) as info:
        Task("F/1/s/1", root=tmp_path / "store", _namespace_check=False).data.x  # noqa: B018
    assert info.value.message == (
        f"invalid blob key of artifact 'F/1/s/1/x': {key!r} is not 64 lowercase hex characters "
        "(the store's metadata is damaged or was written by someone else)"
    )
    (problem,) = verify(store).problems
    assert problem.problem.startswith("an invalid key") and problem.artifacts == ["F/1/s/1/x"]
    with pytest.raises(DatastoreError):
        store.local_blobs.get(key)
