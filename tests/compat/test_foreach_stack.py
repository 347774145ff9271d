# mypy: disable-error-code="union-attr"
"""``self._foreach_stack`` and ``self._current_step`` as Metaflow flows read them: frames
with ``step``, ``var``, ``num_splits``, ``index``, ``value`` that are also Metaflow's
namedtuple ``(step, var, num_splits, index, value)``."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncflow import Engine, Run

from .flows.foreach_stack import ForeachStackFlow

pytestmark = pytest.mark.anyio


async def test_foreach_stack_frames_and_current_step_read_as_in_metaflow(
    store_root: Path,
) -> None:
    result = await Engine().run(ForeachStackFlow)
    assert result.successful, result.traceback
    run = Run(result.pathspec)
    inner = sorted(run["inner"], key=lambda t: t.data.var)
    assert [t.data.var for t in inner] == ["a1", "a2", "a3", "b1", "b2", "b3"]
    last = inner[-1].data
    expected = [("start", "xs", 2, 1, "b"), ("outer", "ys", 3, 2, 3)]
    assert last.frames == last.fields == expected
    assert last.unpacked == ("outer", "ys", 3, 2, 3, 3)  # frame[2] is num_splits
    assert last.stack == [["a", "b"], ["1", "2", "3"]]
    assert last.shown == "ForeachFrame(step='start', var='xs', num_splits=2, index=1, value='b')"
    assert run["start"].task.data.outer_stack == []
    assert run["inner_join"].task.data.depth == 1  # a join closes its foreach
    end = run["end"].task.data
    assert end.lineage == ("start", "outer", "inner", "inner_join", "outer_join", "end")
    assert run["outer_join"].task.data.vars == ["a1", "a2", "a3", "b1", "b2", "b3"]
