"""Metaflow-style flows run through the real CLI, read back from another process.

Every flow here is written as a Metaflow user writes it (only the import line
differs). One store serves the whole module: the flows run once, then one
reader process answers every question as JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ..conftest import run_python

HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows"
MOVIES = "title,genre,score\nAlien,Sci-Fi,0.9\nHeat,Crime,0.8\nDune,Sci-Fi,0.7\n" + (
    "Brazil,Sci-Fi,0.4\nUp,Family,0.95\n"
)
PLAYLIST_ARGS = [
    "--movie_data", "movies.csv", "--recommendations", "3", "--min_score", "0.45",
    "--shuffle", "True", "--config", '{"a": 7}', "--tag", "nightly",
]  # fmt: skip


def _run(root: Path, flow: str, *args: str, user: str | None = None) -> str:
    env_user = {"USER": user, "LOGNAME": user} if user else {}
    saved = {k: os.environ.get(k) for k in env_user}
    os.environ.update(env_user)
    try:
        proc = run_python(str(FLOWS / flow), "run", *args, root=root, check=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return proc.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every flow once (the playlist twice, hello as two users); read all back."""
    root = tmp_path_factory.mktemp("compat") / "store"
    (root.parent / "movies.csv").write_text(MOVIES)
    stdout = {
        "playlist_defaults": _run(root, "playlist.py", "--movie_data", "movies.csv"),
        "playlist": _run(root, "playlist.py", *PLAYLIST_ARGS),
        "hello_alice": _run(root, "hello.py", user="alice"),
        "hello": _run(root, "hello.py"),
        "reads_hello": _run(root, "reads_hello.py"),
        "nested": _run(root, "nested.py"),
        "robust": _run(root, "robust.py"),
        "artifacts": _run(root, "artifacts.py"),
        "iterables": _run(root, "iterables.py"),
    }
    readers = ["hello", "playlist", "nested", "robust", "artifacts", "namespaces", "iterables"]
    proc = run_python(str(HERE / "readback.py"), *readers, root=root, check=True)
    out: dict[str, Any] = json.loads(proc.stdout)
    out["stdout"] = stdout
    return out


def test_hello_world(runs: dict[str, Any]) -> None:
    hello = runs["hello"]
    assert hello["successful"] is True and hello["finished"] is True
    assert hello["steps"] == ["start", "hello", "end"]
    assert hello["greeting"] == "Hi!"
    assert hello["end_has_greeting"] is True  # a linear step inherits everything
    assert hello["stdout"] == {
        "start": "HelloFlow is starting.\n",
        "hello": "the flow says: Hi!\n",
        "end": "HelloFlow is all done.\n",
    }
    assert hello["index"] is None  # not inside a foreach
    assert hello["user_tags"] == []
    assert "HelloFlow is all done." in runs["stdout"]["hello"]
    # a step of another flow reads it through the client, in its own namespace
    assert "HelloFlow/4 said Hi!" in runs["stdout"]["reads_hello"]


def test_playlist_parameters_include_file_branches_and_tags(runs: dict[str, Any]) -> None:
    playlist = runs["playlist"]
    assert playlist["runs"] == 2
    assert playlist["nightly"] == ["PlayListFlow/2"]  # --tag nightly; Flow.runs filters by tag
    assert playlist["latest_is_nightly"] is True
    assert playlist["user_tags"] == ["nightly"]
    assert playlist["param_types"] == {
        "genre": "str", "recommendations": "int", "min_score": "float", "shuffle": "bool",
        "config": "dict",
    }  # fmt: skip
    assert playlist["params"] == ["Sci-Fi", 3, 0.45, True, {"a": 7}]
    assert playlist["dataframe_titles"] == ["Alien", "Heat", "Dune", "Brazil", "Up"]
    assert playlist["movie_data_lines"] == 6  # the IncludeFile is the file's text
    assert playlist["playlist"] == ["Dune", "Alien"]  # 3 asked, 2 above 0.45, reversed
    assert playlist["bonus"] == "Up"
    assert playlist["defaults_run"] == ["Alien", "Dune"]  # the defaults: 2 picks above 0.5
    assert playlist["bonus_step_sees_param"] == "Sci-Fi"
    assert playlist["end_stdout"] == "Pick 1: Dune\nPick 2: Alien\nBonus: Up (7)\n"
    assert playlist["join_parent_steps"] == ["bonus_movie", "genre_movies"]
    assert playlist["artifact_attr"] == ["Dune", "Alien"]  # task.artifacts.playlist.data


def test_nested_foreach_index_stack_and_merge(runs: dict[str, Any]) -> None:
    nested = runs["nested"]
    assert nested["grid"] == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]  # inputs in foreach order
    assert nested["letter_order"] == ["x", "y"]
    assert sorted(nested["inner_indexes"]) == [0, 0, 1, 1, 2, 2]  # self.index: innermost
    assert nested["task_indexes"] == [
        [f"{letter}{size}", size - 1, [outer, size - 1]]
        for outer, letter in enumerate("xy")
        for size in (1, 2, 3)
    ]  # Task.index is the innermost foreach index
    assert nested["stack_type"] == "tuple"
    assert nested["all_stacks"] == [
        [[[outer, 2, letter], [inner, 3, inner + 1]] for inner in range(3)]
        for outer, letter in enumerate("xy")
    ]  # foreach_stack(): (index, num_splits, value), outermost first
    # a join of the inner foreach is still inside the outer one
    assert nested["join_views"] == [[0, "x", [[0, 2, "x"]]], [1, "y", [[1, 2, "y"]]]]
    assert nested["join_task_indexes"] == [0, 1]
    assert nested["after_join_view"] == [None, None, []]
    assert nested["shared"] == "same everywhere"  # merge_artifacts(include=[...])
    assert nested["results"] == [[6, 9], [10, 25]]  # a branch inside a foreach, then joins
    assert nested["merged_only"] == ["d", "d"]  # only one branch set it: merged all the same
    assert nested["branch_indexes"] == [0, 1]  # self.index in a branch inside a foreach
    assert nested["branch_stacks"] == [[[0, 2, 3]], [[1, 2, 5]]]
    assert nested["double_index"] == [0, 1]
    assert nested["has_n"] is False  # excluded from the merge, so not passed down
    assert nested["counts"] == {
        "start": 1, "per_letter": 2, "per_size": 6, "join_sizes": 2, "join_letters": 1,
        "numbers": 1, "split": 2, "double": 2, "square": 2, "pair": 2, "collect": 1, "end": 1,
    }  # fmt: skip


def test_retry_catch_timeout_current_and_logs(runs: dict[str, Any]) -> None:
    robust = runs["robust"]
    assert robust["successful"] is True
    run_id = robust["run_id"]
    assert robust["where"] == {
        "flow_name": "RobustFlow",
        "run_id": run_id,
        "step_name": "start",
        "task_id": robust["where"]["task_id"],  # numbering is not promised, as in Metaflow
        "pathspec": f"RobustFlow/{run_id}/start/{robust['where']['task_id']}",
        "username": robust["where"]["username"],
        "namespace": f"user:{robust['where']['username']}",
        "retry_count": 0,
        "origin_run_id": None,
        "is_running_flow": True,
        "tags": robust["where"]["tags"],
        "parameter_names": ["alpha", "run_label"],
        "is_production": False,
    }
    assert isinstance(run_id, str) and isinstance(robust["where"]["task_id"], str)
    assert robust["where"]["tags"] == []  # user tags only, as Metaflow's (none given)
    assert robust["attempts"] == 2  # current.retry_count on the attempt that succeeded
    assert robust["flaky_attempt"] == 2
    assert robust["flaky_stdout"] == "attempt 2 to stdout\n"  # the latest attempt's logs
    assert robust["flaky_stderr"] == "attempt 2 to stderr\n"
    assert robust["doomed_type"] == "builtins.ValueError"  # Metaflow's module.Class form
    assert robust["doomed_error_exception"] == "this step always fails"
    assert robust["doomed_error"].startswith("Traceback (most recent call last):")
    assert robust["doomed_error"].endswith("ValueError: this step always fails\n")
    assert robust["doomed_attempt"] == 1  # two attempts; @catch keeps the last, as Metaflow
    assert robust["slow_caught"] is True
    assert robust["slow_error_type"] == "metaflow.plugins.timeout_decorator.TimeoutException"
    assert robust["start_error_is_none"] is True  # @catch sets its var to None on success
    assert robust["end_stdout"] == "done despite failures\n"


def test_artifacts_of_many_types(runs: dict[str, Any]) -> None:
    art = runs["artifacts"]
    assert art["reprs"] == {
        "a_dict": "{'k': [1, 2], 'nested': {'z': None}}",
        "a_set": "{1, 2, 3, 4}",  # changed in place in a later step: the change is kept
        "a_frozenset": "frozenset({'a'})",
        "a_tuple": "(1, 'two', 3.0)",
        "a_bytes": "b'\\x00\\x01'",
        "a_none": "None",
        "a_point": "Point(x=3, y=2)",
        "total": "45",
        "scale_seen": "3",
    }
    assert art["start_point"] == "Point(x=1, y=2)"
    assert art["start_set"] == "{1, 2, 3}"  # the start task's value is untouched
    assert art["counter"] == ["Counter", 4, 3]
    assert art["counter_bumps"] == 5  # a class of the flow file, methods and all
    assert art["array"] == [[[0, 3, 6], [9, 12, 15]], "int64"]
    assert art["frame"] == {"name": ["p", "q"], "value": [4.5, 7.5]}
    assert art["start_frame"] == {"name": ["p", "q"], "value": [1.5, 2.5]}
    assert art["constant"] == 3  # class constants are artifacts of every task, as in Metaflow


def test_namespaces_and_listing_flows(runs: dict[str, Any]) -> None:
    ns = runs["namespaces"]
    assert ns["flows"] == [
        "ArtifactTypesFlow", "ForeachIterablesFlow", "HelloFlow", "NestedForeachFlow",
        "PlayListFlow", "ReadsHelloFlow", "RobustFlow",
    ]  # fmt: skip
    assert ns["mine_runs"] == 1  # alice's run is outside the default namespace
    assert ns["alice_runs"] == 1
    assert ns["alice_user"] == "alice"
    assert ns["cross"] == "NamespaceMismatchError"  # caught as MetaflowNamespaceMismatch
    assert ns["missing"] == "flow 'NoSuchFlow' does not exist"  # MetaflowNotFound
    assert ns["all_runs"] == 2  # namespace(None) sees everyone's
    assert ns["mine"] != "alice"


def test_foreach_over_any_iterable(runs: dict[str, Any]) -> None:
    it = runs["iterables"]
    assert it["outside"] == [None, None, []]  # input, index, foreach_stack() outside a foreach
    assert it["range"] == "range(0, 3)"
    assert it["gots"] == [0, 1, 2]
    assert it["got2s"] == [["k1", "k2"]]  # a dict fans out over its keys
    assert it["got3s"] == [[1.5, 2.5]]
    assert it["got3_types"] == ["float64"]  # the array's own items
    assert it["pairs"] == ["1a", "2b"]
