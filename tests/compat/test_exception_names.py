"""``asyncflow.exception`` as Metaflow's ``metaflow.exception``: every name, Metaflow's
constructors and headlines, and the merge exceptions raised where Metaflow raises them."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import cloudpickle
import pytest

import asyncflow.exception as exception
from asyncflow import Engine, Run
from asyncflow.exceptions import AsyncflowException, PathspecError, StepTimeoutError

from .flows.caught import CaughtFlow
from .flows.merges import MergesFlow

pytestmark = pytest.mark.anyio

#: What Metaflow's TimeoutDecorator test reads in ``@catch``'s ``type`` after a timeout.
TIMEOUT_TYPE = "metaflow.plugins.timeout_decorator.TimeoutException"

#: metaflow.exception of Metaflow 2.19: each class and its headline.
METAFLOW_HEADLINES = {
    "ExternalCommandFailed": "External command failed",
    "ParameterFieldFailed": "Parameter field failed",
    "ParameterFieldTypeMismatch": "Parameter field with a mismatching type",
    "MetaflowInternalError": "Internal error",
    "MetaflowUnknownUser": "Unknown user",
    "InvalidDecoratorAttribute": "Unknown decorator attribute",
    "CommandException": "Invalid command",
    "MetaflowDataMissing": "Data missing",
    "UnhandledInMergeArtifactsException": "Unhandled artifacts in merge",
    "MissingInMergeArtifactsException": "Missing artifacts in merge",
}
#: Names asyncflow gives its own exceptions (their headlines are asyncflow's).
ASYNCFLOW_OWN = [
    "MetaflowNotFound", "MetaflowNamespaceMismatch", "MetaflowInvalidPathspec",
    "MetaflowTaggingError", "InvalidNextException",
]  # fmt: skip


def test_every_metaflow_exception_name_is_a_metaflow_exception_with_its_headline() -> None:
    for name, headline in METAFLOW_HEADLINES.items():
        cls = getattr(exception, name)
        assert issubclass(cls, exception.MetaflowException), name
        assert cls.headline == headline, name
    for name in ASYNCFLOW_OWN:
        assert issubclass(getattr(exception, name), exception.MetaflowException), name
    assert exception.MetaflowException is AsyncflowException
    assert exception.MetaflowInvalidPathspec is PathspecError
    assert (exception.METAFLOW_EXIT_DISALLOW_RETRY, exception.METAFLOW_EXIT_ALLOW_RETRY) == (
        202, 203,
    )  # fmt: skip
    assert set(exception.__all__) >= {*METAFLOW_HEADLINES, *ASYNCFLOW_OWN}


def test_constructors_take_metaflows_arguments() -> None:
    plain = exception.MetaflowException("bad value", 12)
    assert (str(plain), plain.message, plain.line_no) == ("line 12: bad value", "bad value", 12)
    assert str(exception.MetaflowException("no such file", source_file="flow.py")) == (
        "flow.py: no such file"
    )
    assert str(exception.MetaflowException()) == ""
    assert str(exception.CommandException("no run to resume")) == "no run to resume"
    assert str(exception.InvalidDecoratorAttribute("retry", "tries", ["times"])) == (
        "Decorator 'retry' does not support the attribute 'tries'. "
        "These attributes are supported: times."
    )
    assert "could not determine your user name" in str(exception.MetaflowUnknownUser())
    try:
        int("x")
    except ValueError:
        failed = exception.ParameterFieldFailed("alpha", "default")
    assert str(failed).startswith("When evaluating the field *default* for the Parameter")
    assert "ValueError: invalid literal" in str(failed)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_a_derived_exception_pickles_whole(dumps: object) -> None:
    # Metaflow's CatchRetry test raises ExternalCommandFailed "on purpose, as it is
    # non-trivial to pickle correctly": @catch and worker processes pickle it
    exc = exception.ExternalCommandFailed("catch me!")
    back = pickle.loads(dumps(exc))  # type: ignore[operator]
    assert type(back) is exception.ExternalCommandFailed
    assert (str(back), back.message, back.headline) == ("catch me!", "catch me!", exc.headline)


async def test_catch_names_a_metaflow_exception_as_metaflow_does(store_root: Path) -> None:
    result = await Engine().run(CaughtFlow)
    assert result.successful, result.traceback
    end = Run(result.pathspec)["end"].task
    assert end is not None and end.data.here and end.exception is None
    caught = end.data.end_ex
    assert (caught.type, caught.exception) == (
        "metaflow.exception.ExternalCommandFailed", "catch me!",
    )  # fmt: skip

    class OwnError(exception.ExternalCommandFailed):
        pass

    assert exception.MetaflowExceptionWrapper(OwnError("x")).type.endswith(
        "test_exception_names.OwnError"
    )  # a subclass of the flow's own keeps its module
    assert exception.MetaflowExceptionWrapper(ValueError("x")).type == "builtins.ValueError"
    # a failed task's record gives the type from its traceback text, named the same way
    text = "Traceback (most recent call last):\n  ...\n"
    for raised, named in [
        ("asyncflow.exception.ExternalCommandFailed", "metaflow.exception.ExternalCommandFailed"),
        ("asyncflow.exceptions.StepTimeoutError", TIMEOUT_TYPE),
        ("asyncflow.exceptions.ForeachError", "asyncflow.exceptions.ForeachError"),
    ]:
        assert exception.MetaflowExceptionWrapper.from_traceback(f"{text}{raised}: x").type == named
    assert exception.MetaflowExceptionWrapper(StepTimeoutError("s", "1 second")).type == (
        TIMEOUT_TYPE
    )


async def test_merge_artifacts_raises_metaflows_exceptions_where_metaflow_does(
    store_root: Path,
) -> None:
    result = await Engine().run(MergesFlow)
    assert result.successful, result.traceback
    join = Run(result.pathspec)["join"].task
    assert join is not None
    assert join.data.missing == ["foobar"]  # "own" the join set itself counts as present
    assert join.data.unhandled == ["differs"]
    assert join.data.merged_nothing  # a failed merge sets nothing
    assert join.data.same == "a"
    assert join.data.caught == {
        "not a join": ["MergeArtifactsError", "Cannot merge artifacts", None],
        "both": ["MergeArtifactsError", "Cannot merge artifacts", None],
    }


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("asyncflow.metaflow_current", ["current"]),
        ("asyncflow.exception", ["MetaflowException", "MissingInMergeArtifactsException"]),
        ("asyncflow.cards", ["get_cards", "MetaflowCard", "Markdown", "Table"]),
        ("asyncflow.plugins.cards.exception", ["CardNotPresentException"]),
        ("asyncflow.plugins.timeout_decorator", ["TimeoutException"]),
        ("asyncflow.client", ["Flow", "Run", "Task", "namespace", "get_namespace"]),
        ("asyncflow.flowspec", ["FlowSpec"]),
        ("asyncflow.parameters", ["Parameter", "JSONType", "IncludeFile"]),
    ],
)
def test_metaflow_module_paths_import_their_names(module: str, names: list[str]) -> None:
    # the metaflow.<module> paths Metaflow code imports from, with metaflow -> asyncflow
    loaded = importlib.import_module(module)
    assert [n for n in names if not hasattr(loaded, n)] == []
