"""The environment variables ``@environment`` and ``@secrets`` set while a task runs.

Metaflow gives each task a process, so these variables are the task's own. Here every
task of the process shares ``os.environ``, so a task holds a lease on each variable it
sets: tasks giving a variable the same value hold it together and run side by side; a
task wanting another value waits until the holders are done. When the last holder
leaves, the variable gets back the value it had before (or is removed).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from ..config_values import evaluate
from ..configs import by_name, load_configs
from ..decorators import EnvironmentSpec, SecretsSpec, find_spec
from ..exceptions import AsyncflowException
from ..graph import StepNode
from .context import RunContext

__all__ = ["SecretsError", "secret_variables", "task_environment"]

#: The secrets backends asyncflow has: ``inline`` gives its ``options["env_vars"]``.
BACKENDS = ("inline",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretsError(AsyncflowException):
    """A ``@secrets`` source cannot be read, or its variables clash."""


@dataclass
class _Hold:
    value: str
    count: int
    before: str | None


_lock = threading.Lock()  # tasks run on the loop and in threads, engines in threads too
_held: dict[str, _Hold] = {}


@asynccontextmanager
async def task_environment(run: RunContext, node: StepNode) -> AsyncIterator[None]:
    """Set the step's ``@environment`` and ``@secrets`` variables for the body's duration."""
    env: EnvironmentSpec | None = find_spec(node.func, EnvironmentSpec)
    secrets: SecretsSpec | None = find_spec(node.func, SecretsSpec)
    if env is None and secrets is None:
        yield
        return
    configs = await _configs(run)
    wanted = {k: str(v) for k, v in evaluate(env.vars, configs).items()} if env else {}
    from_secrets = secret_variables(secrets, configs) if secrets else {}
    clash = sorted(set(wanted) & set(from_secrets))
    if clash:
        raise SecretsError(f"@secrets and @environment both set {', '.join(clash)}")
    wanted.update(from_secrets)
    delay = 0.001
    while not _take(wanted, set(from_secrets)):
        await anyio.sleep(delay)  # another task holds a variable with another value
        delay = min(2 * delay, 0.05)
    try:
        yield
    finally:
        _give_back(wanted)


async def _configs(run: RunContext) -> dict[str, Any]:
    if run.configs is None:
        loaded = await anyio.to_thread.run_sync(
            load_configs, run.flow_cls, run.datastore, run.param_refs, limiter=run.thread_limiter
        )
        run.configs = by_name(run.flow_cls, loaded)
    return run.configs


def _take(wanted: Mapping[str, str], secret_names: set[str]) -> bool:
    with _lock:
        if any(k in _held and _held[k].value != v for k, v in wanted.items()):
            return False
        taken = [k for k in secret_names if k not in _held and k in os.environ]
        if taken:
            raise SecretsError(
                f"@secrets would overwrite the environment variable(s) {', '.join(sorted(taken))}"
            )
        for name, value in wanted.items():
            hold = _held.get(name)
            if hold is None:
                _held[name] = _Hold(value, 1, os.environ.get(name))
                os.environ[name] = value
            else:
                hold.count += 1
        return True


def _give_back(names: Mapping[str, str]) -> None:
    with _lock:
        for name in names:
            hold = _held[name]
            hold.count -= 1
            if hold.count:
                continue
            del _held[name]
            if hold.before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = hold.before


def secret_variables(spec: SecretsSpec, configs: Mapping[str, Any]) -> dict[str, str]:
    """The variables the sources of ``@secrets`` give, checked: names, values, no overlap."""
    found: dict[str, str] = {}
    for source in evaluate(list(spec.sources), configs):
        for name, value in _read_source(source).items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise SecretsError(f"secret variable name {name!r} is not a valid name")
            if not isinstance(value, str):
                raise SecretsError(f"secret variable {name} must be text, got {type(value)}")
            if name in found:
                raise SecretsError(f"two @secrets sources set the variable {name}")
            found[name] = value
    return found


def _read_source(source: Any) -> Mapping[str, Any]:
    default_type = os.environ.get("METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE")
    # messages name a source by its id, never by its options: those hold the secrets
    options: Any = {}
    if isinstance(source, str):
        kind, label = default_type, source
    elif isinstance(source, Mapping):
        kind, options = source.get("type") or default_type, source.get("options") or {}
        label = str(source.get("id", "?"))
    else:
        raise SecretsError(f"a @secrets source is a dict or a text id, not {type(source)}")
    if kind is None:
        raise SecretsError(
            f"@secrets source {label!r} names no backend: give it a 'type' "
            "or set $METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"
        )
    if kind not in BACKENDS:
        raise SecretsError(
            f"asyncflow has no secrets backend {kind!r} (it has: {', '.join(BACKENDS)})"
        )
    env_vars = options.get("env_vars", {}) if isinstance(options, Mapping) else None
    if not isinstance(env_vars, Mapping):
        raise SecretsError(f"inline secret {label!r}: its options must hold an 'env_vars' dict")
    return env_vars
