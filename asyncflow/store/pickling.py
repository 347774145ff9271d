"""The pickle switch: whether this process may load values whose decoding runs code.

A pickled artifact (encoding ``cloudpickle/1``) runs arbitrary code when it is
loaded. Whoever can write the store can plant one, so a reader of a store it
does not trust refuses pickle with any one of:

- ``ASYNCFLOW_ALLOW_PICKLE=0`` in the environment (read at every load);
- ``allow_pickle(False)`` in Python, for the whole process (``None`` returns to
  the environment's choice);
- ``--no-pickle`` on the commands that read values (``asyncflow show``,
  ``python flow.py dump``), which calls ``allow_pickle(False)``.

Refusal applies to every load of the process: the client, the CLI and the
engine (a step that reads a pickled artifact fails with
:class:`~serializers.PickleNotAllowedError`). Listing never unpickles: type and
size come from the metadata recorded at write time.
"""

from __future__ import annotations

import os

__all__ = ["PICKLE_HINT", "allow_pickle", "pickle_allowed"]

#: How to let a refused pickle load, for error messages.
PICKLE_HINT = (
    "loading pickle is switched off (ASYNCFLOW_ALLOW_PICKLE=0, allow_pickle(False) or "
    "--no-pickle); if you trust whoever wrote this store, allow it"
)

_FALSE = ("0", "false", "no", "off")
_override: bool | None = None


def allow_pickle(allowed: bool | None) -> bool:
    """Allow or refuse loading pickled values in this process; ``None`` goes back to
    ``$ASYNCFLOW_ALLOW_PICKLE``. Returns whether pickle is now allowed."""
    global _override
    _override = allowed
    return pickle_allowed()


def pickle_allowed() -> bool:
    """Whether this process may load pickled values: the last :func:`allow_pickle`,
    else ``$ASYNCFLOW_ALLOW_PICKLE`` (allowed unless 0, false, no or off)."""
    if _override is not None:
        return _override
    return os.environ.get("ASYNCFLOW_ALLOW_PICKLE", "").strip().lower() not in _FALSE
