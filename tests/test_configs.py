"""``Config`` and ``config_expr``: where a config's value comes from, how it is parsed,
read-only values, configs in decorators, Parameter defaults and ``@project``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from asyncflow import (
    Config,
    ConfigValue,
    Engine,
    Flow,
    FlowSpec,
    Parameter,
    config_expr,
    current,
    project,
    step,
)
from asyncflow.config_values import evaluate
from asyncflow.exceptions import ParameterError

from .conftest import run_python

SCRIPT = Path(__file__).parent / "flows" / "configs_script.py"


def _script_run(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    shutil.copy(SCRIPT, root.parent / "configs_script.py")
    run_python("configs_script.py", *args, "run", root=root, check=True, env=env)
    run = Flow("ConfigScriptFlow").latest_run
    assert run is not None and run.data is not None
    return run


def test_defaults_a_file_then_default_value_then_none(store_root: Path) -> None:
    run = _script_run(store_root)
    assert run.data.seen == {
        "settings": {"project": "fallback"},  # no settings.json: default_value
        "pair": {"colour": "blue"},  # default_value text goes through the parser
        "extra": None,
        "size": 1,
        "env": "fallback",
    }
    assert "project:fallback" in run.system_tags
    (store_root.parent / "settings.json").write_text(json.dumps({"project": "shop", "size": 3}))
    run = _script_run(store_root)
    assert run.data.seen["settings"] == {"project": "shop", "size": 3}
    assert (run.data.seen["size"], run.data.seen["env"]) == (3, "shop")
    assert "project:shop" in run.system_tags
    assert run.data.settings == {"project": "shop", "size": 3}  # a plain dict in the client


def test_values_from_the_command_line_and_the_environment(store_root: Path) -> None:
    (store_root.parent / "other.json").write_text(json.dumps({"project": "cli_file"}))
    run = _script_run(
        store_root, "--config", "settings", "other.json", "--config-value", "pair", "a=b"
    )
    assert (run.data.seen["settings"], run.data.seen["pair"]) == (
        {"project": "cli_file"},
        {"a": "b"},
    )
    env = {
        "METAFLOW_FLOW_CONFIG": json.dumps({"settings": "other.json"}),
        "METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"extra": {"deep": [1, {"x": 2}]}}),
    }
    run = _script_run(store_root, env=env)
    assert run.data.seen["settings"] == {"project": "cli_file"}
    assert run.data.seen["extra"] == {"deep": [1, {"x": 2}]}


def test_a_config_file_that_does_not_parse_is_a_usage_error(store_root: Path) -> None:
    (store_root.parent / "bad.json").write_text("{not json")
    shutil.copy(SCRIPT, store_root.parent / "configs_script.py")
    proc = run_python(
        "configs_script.py", "--config", "settings", "bad.json", "run", root=store_root
    )
    assert proc.returncode == 2, proc.stderr
    assert "settings" in proc.stderr and "cannot parse its value as JSON" in proc.stderr


class Settings(FlowSpec):
    cfg = Config("cfg", default_value={"n": 2, "inner": {"k": "v"}, "rows": [{"a": 1}]})
    needed = Config("needed", required=True)
    doubled = Parameter("doubled", default=lambda ctx: ctx.configs.cfg.n * 2, type=int)
    inner = Parameter("inner", default=cfg.inner.k)

    @step
    def start(self) -> None:
        self.results = {
            "n": self.cfg.n,
            "nested": (self.cfg.inner.k, self.cfg["inner"]["k"], self.cfg.rows[0].a),
            "needed": self.needed.to_dict(),
            "doubled": self.doubled,
            "inner": self.inner,
        }
        for change in (
            lambda: setattr(self.cfg, "n", 3),
            lambda: self.cfg.__setitem__("n", 3),
            lambda: setattr(self.cfg.inner, "k", "w"),
        ):
            try:
                change()
            except TypeError as exc:
                self.results.setdefault("refused", []).append(str(exc))
        self.next(self.end)

    @step
    def end(self) -> None:
        self.n_in_end = self.cfg.n


@pytest.mark.anyio
async def test_configs_in_steps_are_read_only_and_feed_parameter_defaults(
    store_root: Path,
) -> None:
    result = await Engine().run(Settings, {"needed": '{"x": 1}'})
    assert result.successful, result.traceback
    data = result.run.data
    assert data is not None
    assert data.results == {
        "n": 2,
        "nested": ("v", "v", 1),
        "needed": {"x": 1},
        "doubled": 4,
        "inner": "v",
        "refused": [
            "a config is read-only: cannot set 'n'",
            "a config is read-only: cannot set ['n']",
            "a config is read-only: cannot set 'k'",
        ],
    }
    assert data.n_in_end == 2


@pytest.mark.anyio
async def test_a_required_config_without_a_value_fails_before_the_run(store_root: Path) -> None:
    with pytest.raises(ParameterError, match=r"needed.*a value is required"):
        await Engine().run(Settings)
    with pytest.raises(ParameterError, match=r"needed.*expects a mapping or its text, got 5"):
        await Engine().run(Settings, {"needed": 5})


def test_config_value_compares_as_a_dict_and_pickles() -> None:
    import pickle

    value = ConfigValue({"a": {"b": [1, {"c": 2}]}})
    assert value == {"a": {"b": [1, {"c": 2}]}}
    assert value.a.b[1].c == 2
    assert pickle.loads(pickle.dumps(value)) == value
    with pytest.raises(AttributeError, match="the config has no key 'z'"):
        _ = value.z


def test_config_expr_evaluates_with_the_configs_and_the_modules_globals() -> None:
    configs = {"cfg": ConfigValue({"port": 80, "hosts": ["a", "b"]})}
    assert evaluate(config_expr("str(cfg.port + OFFSET)"), configs) == "81"
    assert evaluate({"x": [config_expr("cfg").hosts[1]]}, configs) == {"x": ["b"]}
    with pytest.raises(ValueError, match=r"config_expr\('nope.x'\) failed"):
        evaluate(config_expr("nope.x"), configs)
    with pytest.raises(TypeError, match="takes the text of an expression"):
        config_expr("")


OFFSET = 1


@project(name=config_expr("cfg").name)
class ProjectFromConfig(FlowSpec):
    cfg = Config("cfg", default_value={"name": "from_config"})

    @step
    def start(self) -> None:
        self.project = current.project_name
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


@pytest.mark.anyio
async def test_project_name_from_a_config_also_on_resume(store_root: Path) -> None:
    first = await Engine().run(ProjectFromConfig, {"cfg": {"name": "given"}})
    assert first.run.data is not None and first.run.data.project == "given"
    resumed = await Engine().resume(ProjectFromConfig, "start")
    assert resumed.run.data is not None and resumed.run.data.project == "given"
    assert "project:given" in resumed.run.system_tags
