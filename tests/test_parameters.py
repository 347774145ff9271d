"""Parameters through Engine.run and through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncflow import Engine, Parameter, Run, Runner
from asyncflow.exceptions import ParameterError, ParameterReadOnlyError

from .conftest import REPO, run_python
from .flows.params import AssignParamFlow, ParamFlow, RequiredParamFlow

SCRIPT = str(REPO / "tests" / "flows" / "params.py")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    notes, blob = tmp_path / "notes.txt", tmp_path / "blob.bin"
    notes.write_text("line one\nline two\n")
    blob.write_bytes(b"\x00\x01\xff")
    return {"notes": str(notes), "blob": str(blob)}


EXPECTED_DEFAULTS = {
    "alpha": 0.5,
    "count": 3,
    "name_": "ada",
    "verbose": False,
    "config": {"depth": 2},
    "tags_": ["a", "b"],
    "label": "ParamFlow-label",
    "notes": "line one\nline two\n",
    "blob": b"\x00\x01\xff",
}


@pytest.mark.anyio
async def test_defaults_apply_and_every_step_sees_the_values(
    store_root: Path, files: dict[str, str]
) -> None:
    result = await Engine().run(ParamFlow, files)
    assert result.status == "successful", result.traceback
    run = Run(result.pathspec)
    start, middle = run["start"].task, run["middle"].task
    assert start is not None and middle is not None
    assert start.data.seen == EXPECTED_DEFAULTS
    assert middle.data.product == 1.5
    # parameters are artifacts: readable through the client, by attribute name
    assert run.data is not None
    assert run.data.alpha == 0.5 and run.data.name_ == "ada" and run.data.tags_ == ["a", "b"]


@pytest.mark.anyio
async def test_engine_converts_text_and_accepts_option_names(
    store_root: Path, files: dict[str, str]
) -> None:
    params = {
        **files, "alpha": "0.25", "count": 4, "user-name": "grace", "verbose": "true",
        "config": {"depth": 5}, "labels": ("x", "y", "z"),
    }  # fmt: skip
    result = await Engine().run(ParamFlow, params)
    start = Run(result.pathspec)["start"].task
    assert start is not None
    seen = start.data.seen
    assert (seen["alpha"], seen["count"], seen["name_"], seen["verbose"]) == (
        0.25,
        4,
        "grace",
        True,
    )
    assert seen["config"] == {"depth": 5} and seen["tags_"] == ["x", "y", "z"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": "many"}, "parameter 'count': 'many' is not a valid integer."),
        ({"config": "{nope"}, "parameter 'config': '{nope' is not valid JSON"),
        ({"bogus": 1}, "parameter 'bogus': the flow has no such parameter (it has: alpha, "),
        (
            {"notes": "/no/such/file"},
            "parameter 'notes': cannot read file '/no/such/file': No such file or directory",
        ),
    ],
    ids=["int", "json", "unknown", "file"],
)
async def test_engine_refuses_bad_values_naming_the_parameter(
    store_root: Path, files: dict[str, str], params: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        await Engine().run(ParamFlow, {**files, **params})
    assert str(info.value).startswith(message)


@pytest.mark.anyio
async def test_a_required_parameter_must_be_given(store_root: Path) -> None:
    with pytest.raises(ParameterError) as info:
        await Engine().run(RequiredParamFlow)
    assert str(info.value) == "parameter 'size': a value is required (--size)"


@pytest.mark.anyio
async def test_assigning_a_parameter_fails_the_task(store_root: Path) -> None:
    result = await Engine().run(AssignParamFlow)
    assert isinstance(result.exception, ParameterReadOnlyError)
    assert str(result.exception) == (
        "'alpha' is a Parameter and cannot be assigned in step 'start'; use another name"
    )


def test_bad_definitions_fail_at_class_creation() -> None:
    with pytest.raises(ParameterError, match="a separator only applies to str parameters"):
        Parameter("n", default=1, separator=",")
    with pytest.raises(ParameterError, match="type <class 'list'> is not one of"):
        Parameter("n", type=list)
    with pytest.raises(ParameterError, match="the name is reserved"):
        Parameter("max-workers")


READ_BACK = """
import json, sys
from asyncflow import Flow
run = Flow("ParamFlow").latest_run
seen = run["start"].task.data.seen
seen["blob"] = list(seen["blob"])
print(json.dumps({"seen": seen, "alpha": run.data.alpha, "count": run.data.count}))
"""


def test_cli_options_come_from_the_parameters(tmp_path: Path, files: dict[str, str]) -> None:
    root = tmp_path / "store"
    args = [
        "--alpha", "2.5", "--count", "7", "--user_name", "lin", "--verbose", "yes",
        "--config", '{"depth": [1, 2]}', "--labels", "p,q", "--label", "mine",
        "--notes", files["notes"], "--blob", files["blob"],
    ]  # fmt: skip
    proc = run_python(SCRIPT, "ParamFlow", "run", *args, root=root, check=True)
    assert "end: alpha=2.5 count=7" in proc.stdout
    out = json.loads(run_python("-c", READ_BACK, root=root, check=True).stdout)
    assert out == {
        "seen": {
            "alpha": 2.5, "count": 7, "name_": "lin", "verbose": True,
            "config": {"depth": [1, 2]}, "tags_": ["p", "q"], "label": "mine",
            "notes": "line one\nline two\n", "blob": [0, 1, 255],
        },
        "alpha": 2.5,
        "count": 7,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--count", "many"], "Invalid value for '--count': 'many' is not a valid integer."),
        (["--alpha", "fast"], "Invalid value for '--alpha': 'fast' is not a valid float."),
        (["--verbose", "maybe"], "Invalid value for '--verbose': 'maybe' is not a valid boolean."),
        (["--config", "{x"], "Invalid value for '--config': '{x' is not valid JSON"),
        (
            ["--notes", "/no/such"],
            "Invalid value for '--notes': cannot read file '/no/such': No such file or directory\n",
        ),
        (["--nope", "1"], "No such option '--nope'. Did you mean '--notes'?"),
    ],
    ids=["int", "float", "bool", "json", "file", "unknown"],
)
def test_a_bad_value_is_a_usage_error(
    tmp_path: Path, files: dict[str, str], args: list[str], error: str
) -> None:
    root = tmp_path / "store"
    base = ["--notes", files["notes"], "--blob", files["blob"]]
    proc = run_python(SCRIPT, "ParamFlow", "run", *base, *args, root=root)
    assert proc.returncode == 2
    assert error in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not root.exists()  # refused before anything was stored


def test_a_missing_required_option_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_python(SCRIPT, "RequiredParamFlow", "run", root=tmp_path / "store")
    assert proc.returncode == 2
    assert "Missing option '--size'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_the_parameters(tmp_path: Path) -> None:
    proc = run_python(SCRIPT, "ParamFlow", "run", "--help", root=tmp_path / "store", check=True)
    assert "--alpha FLOAT" in proc.stdout
    assert "Learning rate. [default: 0.5]" in proc.stdout
    assert "--count INTEGER" in proc.stdout
    assert "--user-name, --user_name TEXT" in proc.stdout  # either spelling works
    assert "--config JSON" in proc.stdout
    assert (
        "--label TEXT" in proc.stdout and "[default: computed when the run starts]" in proc.stdout
    )


@pytest.mark.anyio
async def test_two_parameters_with_one_name_are_refused(store_root: Path) -> None:
    class TwiceFlow(ParamFlow):
        again = Parameter("Count", default=1)

    with pytest.raises(ParameterError) as info:
        await Engine().run(TwiceFlow)
    assert str(info.value) == (
        "parameter 'Count': the name is used twice (by count and again; names ignore case and -/_)"
    )


def test_runner_passes_keyword_parameters(store_root: Path, files: dict[str, str]) -> None:
    result = Runner(ParamFlow).run(**files, user_name="kay", count="9", labels=["u", "v"])
    assert result.status == "successful"
    start = Run(result.pathspec)["start"].task
    assert start is not None
    seen = start.data.seen
    assert (seen["name_"], seen["count"], seen["tags_"]) == ("kay", 9, ["u", "v"])
