"""Who runs a flow: the user a run is recorded under and the default namespace names."""

from __future__ import annotations

import os

__all__ = ["current_user"]


def current_user() -> str:
    """The user a run is recorded under: ``$METAFLOW_USER`` (as Metaflow reads it),
    then ``$USER``, then the login name."""
    env = os.environ
    user = env.get("METAFLOW_USER") or env.get("USER") or env.get("USERNAME")
    if user:
        return user
    import getpass  # rarely needed: most environments set $USER

    return getpass.getuser()
