# mypy: disable-error-code="union-attr, index"
"""Read the compat flows' runs back the way a notebook user would; print JSON.

Run in its own process after the flows ran, so nothing is shared but the store.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from asyncflow import Flow, Metaflow, Run, namespace
from asyncflow.exception import MetaflowNamespaceMismatch, MetaflowNotFound


def hello() -> dict[str, Any]:
    run = Flow("HelloFlow").latest_run
    assert run is not None
    return {
        "successful": run.successful,
        "finished": run.finished,
        "steps": [step.id for step in run],
        "greeting": run["hello"].task.data.greeting,
        "end_has_greeting": "greeting" in run.data,  # type: ignore[operator]
        "stdout": {step.id: step.task.stdout for step in run},
        "index": run["start"].task.index,
        "user_tags": sorted(run.user_tags),
    }


def playlist() -> dict[str, Any]:
    flow = Flow("PlayListFlow")
    nightly = flow.runs("nightly")
    run = nightly[0]
    data = run.data
    assert data is not None
    return {
        "runs": len(flow.runs()),
        "nightly": [r.pathspec for r in nightly],
        "latest_is_nightly": flow.latest_run == run,
        "user_tags": sorted(run.user_tags),
        "playlist": data.playlist,
        "bonus": data.bonus,
        "param_types": data.param_types,
        "params": [data.genre, data.recommendations, data.min_score, data.shuffle, data.config],
        "dataframe_titles": data.dataframe["title"],
        "movie_data_lines": len(data.movie_data.splitlines()),
        "bonus_step_sees_param": run["bonus_movie"].task.data.genre,
        "end_stdout": run["end"].task.stdout,
        "join_parent_steps": sorted(p.path_components[2] for p in run["join"].task.parent_tasks),
        "artifact_attr": run["genre_movies"].task.artifacts.playlist.data,
        "defaults_run": flow.runs()[1].data.playlist,
    }


def nested() -> dict[str, Any]:
    run = Flow("NestedForeachFlow").latest_run
    assert run is not None
    data = run.data
    assert data is not None
    per_size = run["per_size"].tasks()
    return {
        "grid": data.grid,
        "letter_order": data.letter_order,
        "inner_indexes": [t.data.inner_index for t in per_size],
        "task_indexes": sorted(
            (t.data.cell, t.index, [f["index"] for f in t.foreach_stack]) for t in per_size
        ),
        "all_stacks": data.all_stacks,
        "join_views": data.join_views,
        "after_join_view": data.after_join_view,
        "join_task_indexes": sorted(t.index for t in run["join_sizes"]),
        "shared": data.shared,
        "results": data.results,
        "merged_only": data.merged_only,
        "branch_indexes": data.branch_indexes,
        "branch_stacks": data.branch_stacks,
        "has_n": "n" in data,
        "counts": {step.id: len(step.tasks()) for step in run},
        "double_index": sorted(t.index for t in run["double"]),
        "stack_type": type(run["per_size"].task.data.stack[0]).__name__,
    }


def robust() -> dict[str, Any]:
    run = Flow("RobustFlow").latest_run
    assert run is not None
    data = run.data
    assert data is not None
    flaky = run["flaky"].task
    doomed = run["doomed"].task
    return {
        "successful": run.successful,
        "where": run["start"].task.data.where,
        "run_id": run.id,
        "attempts": run["flaky"].task.data.attempts,
        "flaky_attempt": flaky.current_attempt,
        "flaky_stdout": flaky.stdout,
        "flaky_stderr": flaky.stderr,
        "doomed_type": data.doomed_type,
        "doomed_error": str(data.doomed_error),
        "doomed_error_exception": data.doomed_error.exception,
        "doomed_attempt": doomed.current_attempt,
        "slow_caught": data.slow_caught,
        "slow_error_type": data.slow_error.type,
        "start_error_is_none": data.start_error_is_none,
        "end_stdout": run["end"].task.stdout,
    }


def artifacts() -> dict[str, Any]:
    run = Flow("ArtifactTypesFlow").latest_run
    assert run is not None
    data = run.data
    assert data is not None
    start = run["start"].task.data
    return {
        "reprs": {
            name: repr(getattr(data, name))
            for name in (
                "a_dict",
                "a_set",
                "a_frozenset",
                "a_tuple",
                "a_bytes",
                "a_none",
                "a_point",
                "total",
                "scale_seen",
            )
        },
        "start_point": repr(start.a_point),
        "start_set": repr(start.a_set),
        "counter": [type(data.a_counter).__name__, data.a_counter.value, start.a_counter.value],
        "counter_bumps": data.a_counter.bump(),
        "array": [data.a_array.tolist(), str(data.a_array.dtype)],
        "frame": data.a_frame.to_dict(orient="list"),
        "start_frame": start.a_frame.to_dict(orient="list"),
        "constant": data.SCALE if "SCALE" in data else None,
    }


def iterables() -> dict[str, Any]:
    run = Flow("ForeachIterablesFlow").latest_run
    start = run["start"].task.data
    return {
        "outside": start.outside,
        "range": repr(start.a_range),
        "gots": run["j1"].task.data.gots,
        "got2s": sorted({tuple(t.data.got2s) for t in run["j2"]}),
        "got3s": sorted({tuple(t.data.got3s) for t in run["j3"]}),
        "got3_types": sorted({type(t.data.got3).__name__ for t in run["each3"]}),
        "pairs": run.data.ss,
    }


def namespaces() -> dict[str, Any]:
    mine = Flow("HelloFlow").latest_run
    assert mine is not None
    out: dict[str, Any] = {
        "flows": sorted(f.id for f in Metaflow().flows),
        "mine": mine.user,
        "mine_runs": len(Flow("HelloFlow").runs()),
    }
    namespace("user:alice")
    alice = Flow("HelloFlow").latest_run
    out["alice_runs"] = len(Flow("HelloFlow").runs())
    out["alice_user"] = alice.user if alice else None
    try:
        Run(mine.pathspec)
        out["cross"] = "visible"
    except MetaflowNamespaceMismatch as exc:
        out["cross"] = type(exc).__name__
    try:
        Flow("NoSuchFlow")
        out["missing"] = "found"
    except MetaflowNotFound as exc:
        out["missing"] = str(exc)
    namespace(None)
    out["all_runs"] = len(Flow("HelloFlow").runs())
    return out


if __name__ == "__main__":
    readers = {
        "hello": hello,
        "playlist": playlist,
        "nested": nested,
        "robust": robust,
        "artifacts": artifacts,
        "namespaces": namespaces,
        "iterables": iterables,
    }
    print(json.dumps({name: readers[name]() for name in sys.argv[1:]}, default=repr))
