"""Does how an object was uploaded change how fast it reads back? A profile for the
shared-store benchmark (``benchmarks/README.md``, "Shared stores").

``python -m benchmarks.s3_upload_shape [--size-mb 1024] [--rounds 2]`` starts a SeaweedFS
as the tests do and, per round, uploads the same NumPy bytes once by a create-only single
PUT (what asyncflow sends) and once in parts (obstore's default put), GETs each back, then
persists and loads the array through :class:`asyncflow.store.Datastore`, timing its GET,
BLAKE3 check and decoding apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import REPO


def main(argv: list[str] | None = None) -> None:
    """Print one line per upload shape and one for asyncflow, per round."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.s3_upload_shape", description=__doc__)
    p.add_argument("--size-mb", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import numpy as np

    from tests.servers import seaweedfs

    with tempfile.TemporaryDirectory(prefix="af-shape-") as work, seaweedfs(Path(work)) as s3:
        os.environ.update(s3.env)
        value = np.random.default_rng(1).random((args.size_mb << 20) // 8)
        for r in range(args.rounds):
            for shape in ("single PUT", "multipart"):
                print(f"round {r} {shape}: {_raw(s3, value.tobytes(), shape)}", flush=True)
            print(f"round {r} asyncflow: {_asyncflow(s3, value)}", flush=True)


def _timed(work: Callable[[], Any]) -> tuple[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return f"{time.perf_counter() - wall:.2f} s ({time.process_time() - cpu:.2f})", result


def _raw(s3: Any, data: bytes, shape: str) -> str:
    import obstore
    from obstore.store import S3Store

    from asyncflow.store.s3 import REQUEST_TIMEOUT

    store = S3Store(
        s3.bucket, config={"endpoint": s3.endpoint, "region": "us-east-1"},
        client_options={"allow_http": True, "timeout": REQUEST_TIMEOUT},
    )  # fmt: skip
    path = f"shape-{uuid.uuid4().hex}"
    if shape == "single PUT":
        put, _ = _timed(lambda: obstore.put(store, path, data, mode="create", use_multipart=False))
    else:
        put, _ = _timed(lambda: obstore.put(store, path, data))
    get, _ = _timed(lambda: obstore.get(store, path).bytes())
    obstore.delete(store, path)
    return f"put {put}, get {get}"


def _asyncflow(s3: Any, value: Any) -> str:
    from asyncflow.store import Datastore
    from asyncflow.store.blobs import content_key

    with tempfile.TemporaryDirectory(prefix="af-shape-meta-") as meta:
        os.environ["ASYNCFLOW_HOME"] = meta
        store = Datastore.open(s3.fresh_url(), metadata=f"sqlite://{meta}/metadata.db")
        try:
            persist, ref = _timed(lambda: store.persist("x", value))
            load, _ = _timed(lambda: store.load(ref))
            get, view = _timed(lambda: store.blobs.get(ref.key))
            check, _ = _timed(lambda: content_key([view]))
            decode, _ = _timed(lambda: store.registry.deserialize(ref.encoding, view, ref.metadata))
            store.blobs.delete(ref.key)
        finally:
            store.close()
    return f"persist {persist}, load {load} = get {get} + BLAKE3 {check} + decode {decode}"


if __name__ == "__main__":
    main()
