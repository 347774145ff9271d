"""The run command's options generated from a flow's Parameters."""

from __future__ import annotations

from typing import Any

import click

from .configs import Config
from .exceptions import ParameterError
from .parameters import Parameter, flow_parameters

__all__ = ["add_parameter_options", "environment_variable", "parameter_values"]

_PREFIX = "param__"


class _CheckedText(click.ParamType[Any, Any]):
    """Checks a value with the parameter's own conversion, and passes the text on.

    The engine converts it again (one conversion path for the CLI and the API);
    checking here makes a bad value a usage error (exit code 2) naming the option.
    """

    def __init__(self, param: Parameter) -> None:
        self.param = param
        self.name = param.click_type.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            self.param.convert(value)
        except ParameterError as exc:
            self.fail(exc.problem, param, ctx)
        return value


def _option(param: Parameter) -> click.Option:
    help_text = param.help or ""
    default = param.describe_default()
    if default is not None:
        help_text = f"{help_text} [default: {default}]".strip()
    # Metaflow spells the option as the name is written; the other spelling of - and _ works too.
    spellings = dict.fromkeys(
        [param.option, param.option.replace("_", "-"), "--" + param.name.replace("-", "_")]
    )
    return click.Option(
        [*spellings, _PREFIX + param.attr],
        envvar=environment_variable(param),
        type=_CheckedText(param),
        required=param.required and param.default is None,
        help=help_text or None,
    )


def environment_variable(param: Parameter) -> str:
    """``METAFLOW_RUN_<NAME>``: the variable that gives the parameter's value when the
    command line does not, as Metaflow reads it."""
    return "METAFLOW_RUN_" + param.name.upper().replace("-", "_")


def add_parameter_options(command: click.Command, flow_cls: type) -> None:
    """Give ``command`` one ``--name`` option per Parameter of ``flow_cls`` (idempotent)."""
    # configs are top-level options (--config NAME FILE), as in Metaflow
    base = [p for p in command.params if not (p.name or "").startswith(_PREFIX)]
    params = [p for p in flow_parameters(flow_cls).values() if not isinstance(p, Config)]
    command.params = [*(_option(p) for p in params), *base]


def parameter_values(options: dict[str, Any]) -> dict[str, Any]:
    """The parameter values given on the command line, by attribute name."""
    return {
        name.removeprefix(_PREFIX): value
        for name, value in options.items()
        if name.startswith(_PREFIX) and value is not None
    }
