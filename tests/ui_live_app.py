"""The UI's app and a run of GatedFlow in one process, as a service that embeds the UI
would run them: the run page follows the run through the engine's events (LiveRuns).

python -m tests.ui_live_app ROOT PORT  (the gate file is $UI_TEST_GATE); serves until
terminated, after the run too.
"""

from __future__ import annotations

import sys

import anyio
import uvicorn

from asyncflow import Runner
from asyncflow.ui import LiveRuns, create_app

from .flows.ui_flows import GatedFlow


async def main(root: str, port: int) -> None:
    live = LiveRuns()
    config = uvicorn.Config(
        create_app(root, live=live), host="127.0.0.1", port=port, log_level="warning",
        timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            await anyio.sleep(0.05)
        await Runner(GatedFlow, datastore_root=root).async_run(on_event=live)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], int(sys.argv[2]))
