"""``Config``: Metaflow's configs, read once when a run starts and fixed for all of it.

A config is a parameter whose value is a mapping, read from a file or given as text,
parsed (JSON, or the ``parser`` given), persisted like a parameter, and read in every
step as a read-only :class:`~asyncflow.config_values.ConfigValue`. Because it is known
before any step runs, decorators and Parameter defaults can use it through
``config.key`` or ``config_expr("...")``.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config_values import ConfigValue, DelayedEvaluator
from .exceptions import ParameterError
from .parameters import Parameter, ParameterContext, flow_parameters

if TYPE_CHECKING:
    from .store import ArtifactRef, Datastore

__all__ = [
    "Config", "by_name", "flow_configs", "given_from_environment", "load_configs", "resolve_configs"
]  # fmt: skip

Parser = Callable[[str], Mapping[str, Any]]


class Config(Parameter):
    """A flow's config: ``config = Config("config", default="config.json")``.

    Its value is, first match wins: what the run is given (``--config NAME FILE``,
    ``--config-value NAME TEXT``, ``$METAFLOW_FLOW_CONFIG`` / ``$METAFLOW_FLOW_CONFIG_VALUE``,
    or ``Engine.run(flow, {"config": text_or_mapping})``); the file ``default`` names
    (a path, or a function of the :class:`ParameterContext` giving one) if it exists;
    ``default_value`` (a mapping, text, or a function giving either). Text is parsed by
    ``parser`` (a function or ``"module.function"`` returning a mapping), JSON by default.
    With none of them, a ``required`` config is an error and another one is None.
    """

    def __init__(
        self,
        name: str,
        default: str | Callable[[ParameterContext], str] | None = None,
        default_value: Any = None,
        help: str | None = None,
        required: bool | None = None,
        parser: str | Parser | None = None,
    ) -> None:
        super().__init__(name, default, type=str, help=help, required=bool(required))
        self.default_value_given = default_value
        self.parser = parser

    def __get__(self, flow: Any, owner: type | None = None) -> Any:
        if flow is None:
            return self
        value = super().__get__(flow, owner)
        if isinstance(value, Mapping) and not isinstance(value, ConfigValue):
            value = flow.__dict__[self.attr] = ConfigValue(value)
        return value if isinstance(value, ConfigValue) or value is None else None

    def __getattr__(self, key: str) -> DelayedEvaluator:
        # `config.timeout` in a class body or a decorator: a value known when the run starts
        if key.startswith("_"):
            raise AttributeError(key)
        return DelayedEvaluator(("config", self.name), (("attr", key),))

    def __getitem__(self, key: str) -> DelayedEvaluator:
        return DelayedEvaluator(("config", self.name), (("item", key),))

    def parse(self, text: str) -> ConfigValue:
        """Parse config text with the config's parser (JSON by default)."""
        parse = _parser(self)
        try:
            value = parse(text)
        except Exception as exc:
            how = "as JSON" if self.parser is None else f"with its parser {self.parser!r}"
            raise ParameterError(self.name, f"cannot parse its value {how}: {exc}") from exc
        if not isinstance(value, Mapping):
            raise ParameterError(self.name, f"its parser returned {value!r}, not a mapping")
        return ConfigValue(value)

    def resolve(self, given: Any, ctx: ParameterContext) -> ConfigValue | None:
        """The config's value for a run, from what the run is given or the defaults."""
        if given is not None:
            return self._from(given)
        path = self.default(ctx) if callable(self.default) else self.default
        if path is not None and Path(path).is_file():
            return self.parse(_read(self, Path(path)))
        fallback = self.default_value_given
        if callable(fallback):
            fallback = fallback(ctx)
        if fallback is not None:
            return self._from(fallback)
        if self.required:
            raise ParameterError(
                self.name, f"a value is required (--config {self.name} FILE or --config-value)"
            )
        return None

    def _from(self, value: Any) -> ConfigValue:
        if isinstance(value, Mapping):
            return ConfigValue(value)
        if isinstance(value, str):
            return self.parse(value)
        raise ParameterError(self.name, f"expects a mapping or its text, got {value!r}")

    def describe_default(self) -> str | None:
        """The default as ``--help`` shows it."""
        return None if self.default is None else f"read from {self.default}"


def _parser(config: Config) -> Parser:
    parser = config.parser
    if parser is None:
        return json.loads
    if callable(parser):
        return parser
    module, _, func = parser.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ParameterError(config.name, f"cannot import its parser {parser!r}: {exc}") from exc
    return found  # type: ignore[no-any-return]


def _read(config: Config, path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(config.name, f"cannot read its file '{path}': {exc}") from exc


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """The flow's configs by attribute name."""
    return {a: p for a, p in flow_parameters(flow_cls).items() if isinstance(p, Config)}


def resolve_configs(
    flow_cls: type, given: Mapping[str, Any], *, user: str
) -> dict[str, ConfigValue | None]:
    """Every config's value for a new run, by attribute name (``given`` by name or attribute)."""
    found: dict[str, ConfigValue | None] = {}
    for attr, config in flow_configs(flow_cls).items():
        value = given.get(attr, given.get(config.name))
        ctx = ParameterContext(flow_cls.__name__, user, config.name, ConfigValue({}))
        found[attr] = config.resolve(value, ctx)
    return found


def load_configs(
    flow_cls: type, datastore: Datastore, refs: Mapping[str, ArtifactRef]
) -> dict[str, ConfigValue | None]:
    """The configs of a run that has started, read back from its parameter artifacts."""
    found: dict[str, ConfigValue | None] = {}
    for attr in flow_configs(flow_cls):
        value = datastore.load(refs[attr]) if attr in refs else None
        found[attr] = ConfigValue(value) if isinstance(value, Mapping) else None
    return found


def by_name(flow_cls: type, configs: Mapping[str, Any]) -> dict[str, Any]:
    """The configs keyed by attribute name and by config name, for evaluating expressions."""
    names = {config.name: configs.get(attr) for attr, config in flow_configs(flow_cls).items()}
    return {**names, **configs}


def given_from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Metaflow's ``$METAFLOW_FLOW_CONFIG`` (JSON: name -> file) and
    ``$METAFLOW_FLOW_CONFIG_VALUE`` (JSON: name -> value), as config values by name."""
    given: dict[str, Any] = {}
    for var, is_file in (("METAFLOW_FLOW_CONFIG", True), ("METAFLOW_FLOW_CONFIG_VALUE", False)):
        text = environ.get(var)
        if not text:
            continue
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(var, f"is not a JSON object: {exc.msg}") from exc
        if not isinstance(entries, dict):
            raise ParameterError(var, "must be a JSON object mapping config names to values")
        for name, value in entries.items():
            given[name] = _read_file(name, value) if is_file else value
    return given


def _read_file(name: str, path: Any) -> str:
    try:
        return Path(str(path)).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(name, f"cannot read its config file '{path}': {exc}") from exc
