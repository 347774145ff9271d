"""``Parameter``, ``IncludeFile`` and ``JSONType``: the run's inputs, constant in every step.

A parameter is a class attribute of the flow. Its value is fixed when the run
starts (from the command line, ``Engine.run(flow, params)`` or its default),
persisted as an artifact named after the attribute, and read back in every
step through the descriptor; assigning it fails.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .config_values import ConfigValue, DelayedEvaluator, evaluate
from .exceptions import ParameterError

__all__ = [
    "RESERVED_PARAMETER_NAMES",
    "IncludeFile",
    "JSONType",
    "JSONTypeClass",
    "Parameter",
    "ParameterContext",
    "flow_parameters",
    "is_parameter",
    "resolve_parameters",
]

#: Parameter names that would clash with the run command's own options or the engine.
RESERVED_PARAMETER_NAMES = frozenset({"params", "max_workers", "max_num_splits", "tag"})


class JSONTypeClass(click.ParamType[Any, Any]):
    """A parameter type whose value is parsed from JSON text (values that are not text pass)."""

    name = "JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``value`` if it is text; fail naming the value otherwise."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(f"{value!r} is not valid JSON ({exc.msg})", param, ctx)


#: Use as ``Parameter("config", type=JSONType, default='{"a": 1}')``.
JSONType = JSONTypeClass()

_CLICK_TYPES: dict[Any, click.ParamType[Any, Any]] = {
    str: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    bool: click.BOOL,
}


@dataclass(frozen=True)
class ParameterContext:
    """What a callable default receives: ``default=lambda ctx: ...``; ``configs`` reads
    the run's configs by name (``ctx.configs.cfg.key``)."""

    flow_name: str
    user_name: str
    parameter_name: str
    configs: Any = None


class Parameter:
    """A run input: ``alpha = Parameter("alpha", default=0.5, help="...")``.

    ``type`` is ``str``, ``int``, ``float``, ``bool`` or ``JSONType`` (by default
    the type of ``default``, else ``str``); ``separator`` splits a string value
    into a list; ``default`` may be a callable taking a :class:`ParameterContext`.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        *,
        type: Any = None,
        help: str | None = None,
        required: bool = False,
        show_default: bool = True,
        separator: str | None = None,
    ) -> None:
        self.name, self.default, self.help = name, default, help
        self.required, self.show_default, self.separator = required, show_default, separator
        self.type = type if type is not None else _type_of(default)
        self.attr = name.replace("-", "_")
        _check_definition(self)

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, flow: Any, owner: type | None = None) -> Any:
        if flow is None:
            return self
        cached = flow.__dict__
        if self.attr not in cached:
            artifacts = getattr(flow, "_artifacts", None)
            if artifacts is None or self.attr not in artifacts:
                return self.default
            cached[self.attr] = artifacts.load(self.attr)
        return cached[self.attr]

    @property
    def click_type(self) -> click.ParamType[Any, Any]:
        """The click type that parses this parameter's text."""
        if isinstance(self.type, click.ParamType):
            return self.type
        return _CLICK_TYPES.get(self.type, click.STRING)

    @property
    def option(self) -> str:
        """The command-line option, ``--name``."""
        return f"--{self.name}"

    def convert(self, value: Any) -> Any:
        """``value`` (text or a Python value) as this parameter's type; fails naming it."""
        if self.separator and isinstance(value, list | tuple):
            return [self._convert_one(item) for item in value]  # already split
        converted = self._convert_one(value)
        if self.separator and isinstance(converted, str):
            return converted.split(self.separator)
        return converted

    def _convert_one(self, value: Any) -> Any:
        try:
            return self.click_type.convert(value, None, None)
        except click.BadParameter as exc:
            raise ParameterError(self.name, exc.message) from exc

    def default_value(self, ctx: ParameterContext) -> Any:
        """The default, calling it with ``ctx`` when it is a function."""
        default = self.default
        if isinstance(default, DelayedEvaluator):
            try:
                default = evaluate(default, ctx.configs or {})
            except Exception as exc:
                raise ParameterError(self.name, f"its default {default!r} failed: {exc}") from exc
        elif callable(default):
            try:
                default = default(ctx)
            except Exception as exc:
                raise ParameterError(self.name, f"its default function failed: {exc!r}") from exc
        return None if default is None else self.convert(default)

    def describe_default(self) -> str | None:
        """The default as ``--help`` shows it (None when there is nothing to show)."""
        if not self.show_default or self.default is None:
            return None
        if callable(self.default) or isinstance(self.default, DelayedEvaluator):
            return "computed when the run starts"
        return str(self.default)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class IncludeFile(Parameter):
    """A parameter whose value is the content of a file given by path (text, or bytes)."""

    def __init__(
        self,
        name: str,
        default: str | os.PathLike[str] | Callable[[ParameterContext], str] | None = None,
        *,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,
        required: bool = False,
        show_default: bool = True,
    ) -> None:
        self.is_text, self.encoding = is_text, encoding
        super().__init__(
            name, default, type=str, help=help, required=required, show_default=show_default
        )

    @property
    def click_type(self) -> click.ParamType[Any, Any]:
        """Paths on the command line: must name a readable file."""
        return click.Path(exists=True, dir_okay=False, readable=True)

    def convert(self, value: Any) -> Any:
        """Read the file at ``value``: its text, or its bytes with ``is_text=False``."""
        if not isinstance(value, str | os.PathLike):
            raise ParameterError(self.name, f"expects a path to a file, got {value!r}")
        path = Path(value)
        try:
            return path.read_text(self.encoding) if self.is_text else path.read_bytes()
        except OSError as exc:
            raise ParameterError(self.name, f"cannot read file '{path}': {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ParameterError(self.name, f"file '{path}' is not {self.encoding} text") from exc


def _type_of(default: Any) -> Any:
    if default is None or callable(default) or isinstance(default, DelayedEvaluator):
        return str
    return builtins.type(default)


def _check_definition(param: Parameter) -> None:
    if param.attr in RESERVED_PARAMETER_NAMES or param.name in RESERVED_PARAMETER_NAMES:
        raise ParameterError(param.name, "the name is reserved; choose another")
    if not isinstance(param.type, click.ParamType) and param.type not in _CLICK_TYPES:
        raise ParameterError(
            param.name, f"type {param.type!r} is not one of str, int, float, bool or JSONType"
        )
    if param.separator and param.type is not str:
        raise ParameterError(param.name, "a separator only applies to str parameters")


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """The flow's parameters by attribute name, in definition order (base classes first)."""
    found: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[attr] = value
    return found


def resolve_parameters(
    flow_cls: type, given: Mapping[str, Any], *, user: str, configs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every parameter's value by attribute name: ``given`` converted, defaults filled in.

    ``configs`` are the run's configs by attribute name (see :mod:`asyncflow.configs`):
    they are the values of the flow's ``Config`` attributes, as plain dicts, and what
    Parameter defaults see as ``ctx.configs``.

    ``given`` may use the attribute name, the parameter name, or the parameter name
    with ``-`` as ``_``. Unknown names, missing required values and values of the
    wrong type fail with a :class:`ParameterError` naming the parameter.
    """
    params = flow_parameters(flow_cls)
    _check_unique(params)
    keys = {alias: attr for attr, p in params.items() for alias in _aliases(attr, p)}
    unknown = sorted(k for k in given if k not in keys)
    if unknown:
        known = ", ".join(p.name for p in params.values()) or "none"
        raise ParameterError(unknown[0], f"the flow has no such parameter (it has: {known})")
    by_attr = {keys[k]: v for k, v in given.items()}
    if configs is None:
        from .configs import resolve_configs  # it builds on this module

        configs = resolve_configs(flow_cls, given, user=user)
    seen = _configs_by_name(params, configs)
    values: dict[str, Any] = {}
    for attr, param in params.items():
        if attr in configs:
            config = configs[attr]
            values[attr] = config.to_dict() if isinstance(config, ConfigValue) else config
        else:
            values[attr] = _value(flow_cls, param, by_attr, user, seen)
    return values


def _configs_by_name(params: Mapping[str, Parameter], configs: Mapping[str, Any]) -> ConfigValue:
    named = {params[attr].name: value for attr, value in configs.items() if attr in params}
    return ConfigValue({**named, **configs})


def _check_unique(params: Mapping[str, Parameter]) -> None:
    seen: dict[str, str] = {}
    for attr, param in params.items():
        key = param.name.replace("-", "_").lower()
        if key in seen:
            raise ParameterError(
                param.name,
                f"the name is used twice (by {seen[key]} and {attr}; names ignore case and -/_)",
            )
        seen[key] = attr


def _aliases(attr: str, param: Parameter) -> set[str]:
    return {attr, param.name, param.name.replace("-", "_").lower()}


def _value(
    flow_cls: type, param: Parameter, given: Mapping[str, Any], user: str, configs: Any
) -> Any:
    if param.attr in given and given[param.attr] is not None:
        return param.convert(given[param.attr])
    if param.required and param.default is None:
        raise ParameterError(param.name, f"a value is required ({param.option})")
    return param.default_value(ParameterContext(flow_cls.__name__, user, param.name, configs))


def is_parameter(flow_cls: type, name: str) -> bool:
    """Whether ``name`` is a parameter attribute of ``flow_cls``."""
    return name in _parameter_attrs(flow_cls)


@functools.lru_cache(maxsize=256)
def _parameter_attrs(flow_cls: type) -> frozenset[str]:
    # every assignment in every task asks; a class's parameters are fixed once it is defined
    return frozenset(flow_parameters(flow_cls))
