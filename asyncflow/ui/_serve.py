"""Serving the app with uvicorn: what ``asyncflow ui`` runs."""

from __future__ import annotations

import os

import click

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "NO_AUTH_WARNING", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
NO_AUTH_WARNING = (
    "warning: the asyncflow UI has no authentication; on {host} anyone who can reach "
    "port {port} can read every run, log and artifact of this datastore"
)
_LOCAL = ("127.0.0.1", "localhost", "::1")


def serve(root: str | os.PathLike[str] | None, host: str, port: int, allow_pickle: bool) -> None:
    """Serve the UI until interrupted; warn when it is reachable beyond this machine."""
    import uvicorn

    from ._app import create_app

    if host not in _LOCAL:
        click.secho(NO_AUTH_WARNING.format(host=host, port=port), fg="yellow", err=True)
    app = create_app(root, allow_pickle=allow_pickle)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"asyncflow ui: serving http://{shown}:{port}/ (Ctrl-C to stop)", err=True)
    # Open event streams of live pages must not hold a shutdown for long.
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
