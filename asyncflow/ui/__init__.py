"""``asyncflow ui``: a read-only web browser of flows, runs, tasks and artifacts.

``create_app()`` is a Starlette (ASGI) app to serve with uvicorn or mount inside a
service; ``asyncflow ui`` serves it on 127.0.0.1. Needs the ``ui`` extra
(``pip install 'asyncflow[ui]'``).
"""

from __future__ import annotations

from ._app import create_app
from ._live import LiveRuns, RunningTask

__all__ = ["LiveRuns", "RunningTask", "create_app"]
