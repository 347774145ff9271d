"""What a ``Config`` holds and how code refers to it before a run has read it.

:class:`ConfigValue` is a read-only mapping whose keys also read as attributes
(``config.db.host``). :class:`DelayedEvaluator` stands for a value of a config that is
not known yet: ``config.timeout`` or ``config_expr("str(config.port)")`` in a class body
or a decorator's arguments, worked out with :func:`evaluate` once the run has its configs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ConfigValue", "DelayedEvaluator", "config_expr", "evaluate"]


class ConfigValue(Mapping[str, Any]):
    """A config's value: a read-only mapping, its keys also attributes, nested ones too.

    It compares equal to a ``dict`` with the same content; ``to_dict()`` gives that dict.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", {str(k): _wrap(v) for k, v in data.items()})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"a config is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"a config is read-only: cannot delete {name!r}")

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"a config is read-only: cannot set [{key!r}]")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"a config is read-only: cannot delete [{key!r}]")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigValue):
            other = other.to_dict()
        return self.to_dict() == other

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The content as plain dicts and lists."""
        return {k: _unwrap(v) for k, v in self._data.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))

    def __repr__(self) -> str:
        return f"ConfigValue({self.to_dict()!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, ConfigValue):
        return value
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list | tuple):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, ConfigValue):
        return value.to_dict()
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class DelayedEvaluator:
    """A value of the run's configs, known once the run has read them.

    Made by ``config_expr("...")`` or by reading a key of a ``Config`` in a class body
    (``config.timeout``); further keys and attributes chain (``config_expr("c").a["b"]``).
    """

    _root: tuple[str, str]
    _path: tuple[tuple[str, Any], ...]
    _scope: Mapping[str, Any]

    def __init__(
        self,
        root: tuple[str, str],
        path: tuple[tuple[str, Any], ...] = (),
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        # root: ("config", name) or ("expr", python text); scope: the defining module's globals
        self._root, self._path, self._scope = root, path, scope or {}

    def __getattr__(self, name: str) -> DelayedEvaluator:
        if name.startswith("_"):
            raise AttributeError(name)
        return DelayedEvaluator(self._root, (*self._path, ("attr", name)), self._scope)

    def __getitem__(self, key: Any) -> DelayedEvaluator:
        return DelayedEvaluator(self._root, (*self._path, ("item", key)), self._scope)

    def evaluate(self, configs: Mapping[str, Any]) -> Any:
        """The value, given the run's configs by name."""
        kind, text = self._root
        if kind == "config":
            if text not in configs:
                raise KeyError(f"the flow has no config {text!r}")
            value = configs[text]
        else:
            try:
                value = eval(text, {**self._scope, **configs})
            except Exception as exc:
                raise ValueError(f"config_expr({text!r}) failed: {exc!r}") from exc
        for how, key in self._path:
            value = getattr(value, key) if how == "attr" else value[key]
        return value

    def __repr__(self) -> str:
        kind, text = self._root
        head = text if kind == "config" else f"config_expr({text!r})"
        tail = "".join(f".{k}" if how == "attr" else f"[{k!r}]" for how, k in self._path)
        return head + tail


def config_expr(expression: str) -> DelayedEvaluator:
    """A Python expression over the flow's configs (by name) and the calling module's
    globals, evaluated when the run starts: ``@project(name=config_expr("cfg").project)``."""
    if not isinstance(expression, str) or not expression.strip():
        raise TypeError(f"config_expr() takes the text of an expression, got {expression!r}")
    caller = sys._getframe(1).f_globals
    return DelayedEvaluator(("expr", expression), (), caller)


def evaluate(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with every :class:`DelayedEvaluator` in it (in dicts, lists, tuples)
    replaced by what it evaluates to."""
    if isinstance(value, DelayedEvaluator):
        return value.evaluate(configs)
    if isinstance(value, dict):
        return {k: evaluate(v, configs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(evaluate(v, configs) for v in value)
    return value
