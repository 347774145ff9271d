"""Race tag changes on one run, as tasks of parallel branches do: ``tag_racer.py
PATHSPEC NAME ROUNDS GATE`` (stores from ASYNCFLOW_DATASTORE/ASYNCFLOW_METADATA).

A racer creates ``GATE.NAME`` once ready and starts when ``GATE`` exists, so all start
together. Each round adds the tag every racer shares and checks it is there, adds
this racer's own ``NAME-round``, removes the shared tag and checks it is gone.
Importable: the tests run :func:`race` in threads beside processes running this script.
"""

import sys
import time
from pathlib import Path

from asyncflow import Run, namespace
from asyncflow.store import StoreURLs

SHARED = "shared"


def race(pathspec: str, name: str, rounds: int, gate: Path, root: StoreURLs | None = None) -> None:
    """Change the run's tags ``rounds`` times; AssertionError names the round at fault."""
    namespace(None)
    run = Run(pathspec, root=root)
    Path(f"{gate}.{name}").touch()
    while not gate.exists():
        time.sleep(0.005)
    for i in range(rounds):
        mine = f"{name}-{i}"
        run.add_tag(SHARED)
        assert SHARED in run.user_tags, f"{mine}: {SHARED!r} missing just after adding it"
        run.add_tag(mine)
        run.remove_tag(SHARED)
        tags = run.user_tags
        assert SHARED not in tags, f"{mine}: {SHARED!r} still there just after removing it"
        assert mine in tags, f"{mine}: missing just after adding it ({sorted(tags)})"


if __name__ == "__main__":
    race(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
