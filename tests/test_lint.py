"""Every graph rule, with the exact message and the line it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncflow import FlowSpec
from asyncflow.graph import FlowGraph
from asyncflow.lint import lint

from .flows import lint_cases

FILE = str(Path(lint_cases.__file__))
_LINES = Path(FILE).read_text().splitlines()


def at(step: str, tag: str) -> str:
    """``step 'x' (file:line)`` for the line marked ``# L:<tag>``."""
    line = next(i for i, text in enumerate(_LINES, 1) if text.endswith(f"# L:{tag}"))
    return f"step '{step}' ({FILE}:{line})"


def class_line(name: str) -> int:
    return next(i for i, text in enumerate(_LINES, 1) if text.startswith(f"class {name}("))


def findings(flow: type[FlowSpec]) -> list[str]:
    return lint(FlowGraph(flow))


CASES: list[tuple[type[FlowSpec], list[str]]] = [
    (
        lint_cases.ReservedNameFlow,
        [f"{at('input', 'reserved')}: 'input' is a reserved name; give the step another name"],
    ),
    (
        lint_cases.BadNameFlow,
        [
            f"{at('Upper', 'badname')}: a step name may only use lowercase letters, digits and "
            "underscores, and may not start with an underscore"
        ],
    ),
    (
        lint_cases.NoStartFlow,
        [f"the flow NoStartFlow ({FILE}:{class_line('NoStartFlow')}) has no 'start' step; add one"],
    ),
    (
        lint_cases.EndHasNextFlow,
        [f"{at('end', 'end-next')}: the end step must not call self.next(); remove it"],
    ),
    (
        lint_cases.MissingNextFlow,
        [
            f"{at('start', 'missing')}: the last statement of a step must be self.next(...)",
        ],
    ),
    (
        lint_cases.MisplacedNextFlow,
        [
            f"{at('start', 'misplaced')}: self.next(...) must be the last statement of the "
            "step, called once on every path",
        ],
    ),
    (
        lint_cases.BadNextArgsFlow,
        [
            f"{at('start', 'badargs')}: every argument of self.next() must be a step, "
            "written self.<step_name>",
        ],
    ),
    (
        lint_cases.ForeachTwoTargetsFlow,
        [f"{at('start', 'foreach-two')}: a foreach transition must name exactly one step"],
    ),
    (
        lint_cases.UnknownStepFlow,
        [f"{at('start', 'unknown')}: self.next() goes to unknown step 'nowhere'"],
    ),
    (
        lint_cases.CycleFlow,
        [
            f"{at('b', 'cycle')}: the flow loops: a -> b -> a; "
            "break the loop in the self.next() calls"
        ],
    ),
    (
        lint_cases.OrphanFlow,
        [
            f"{at('lonely', 'orphan')}: no path from start reaches this step; "
            "call self.next(self.lonely) somewhere or remove it"
        ],
    ),
    (
        lint_cases.UnjoinedSplitFlow,
        [
            f"{at('end', 'unjoined')}: the flow reaches end while the split at step 'start' "
            "(into a, b) is not joined; add a join step before end"
        ],
    ),
    (
        lint_cases.JoinWithoutInputsFlow,
        [
            f"{at('join', 'no-inputs')}: 2 steps go into this step (a, b), so it joins the "
            "split at step 'start', but it takes no 'inputs'; define it as "
            "def join(self, inputs)"
        ],
    ),
    (
        lint_cases.ForeachJoinWithoutInputsFlow,
        [
            f"{at('end', 'foreach-no-inputs')}: the flow reaches end while the split at step "
            "'start' (into each) is not joined; add a join step before end, or make step "
            "'join' one: def join(self, inputs)"
        ],
    ),
    (
        lint_cases.MissingStepDecoratorFlow,
        [
            f"{at('start', 'no-decorator')}: self.next() goes to middle(), a method that "
            "lacks @step; put @step above def middle"
        ],
    ),
    (
        lint_cases.EndWithoutStepFlow,
        [
            "the flow EndWithoutStepFlow has no 'end' step: its method end() lacks @step; "
            "put @step above def end",
            f"{at('start', 'end-no-decorator')}: self.next() goes to end(), a method that "
            "lacks @step; put @step above def end",
        ],
    ),
    (
        lint_cases.JoinWithoutSplitFlow,
        [f"{at('gather', 'nosplit')}: this join step (it takes 'inputs') follows no split"],
    ),
    (
        lint_cases.ForeachIntoJoinFlow,
        [
            f"{at('start', 'foreach-join')}: the foreach goes straight into join step 'join'; "
            "add a step between them"
        ],
    ),
    (
        lint_cases.SignatureFlow,
        [
            f"{at('start', 'split-join')}: a step cannot both join (it takes 'inputs') and "
            "split; split in a separate step after the join",
            f"{at('a', 'too-many')}: a step takes only 'self', or 'self, inputs' when it is a "
            "join; remove the other arguments",
            f"{at('end', 'end-join')}: the end step cannot be a join (it takes 'inputs'); "
            "add a join before it",
            # a bad signature does not hide the rules about the graph's shape
            f"{at('end', 'end-join')}: the flow reaches end while the split at step 'start' "
            "(into a, b) is not joined; add a join step before end",
        ],
    ),
    (
        lint_cases.SwitchKeyNotLiteralFlow,
        [
            f"{at('start', 'switch-key')}: a switch case must be a literal (a string or a "
            "number) or self.config.<key>"
        ],
    ),
    (
        lint_cases.SwitchWithoutConditionFlow,
        [
            f"{at('start', 'switch-nocond')}: a dictionary in self.next() needs "
            "condition='<artifact>' to choose the case"
        ],
    ),
    (
        lint_cases.SwitchIntoJoinFlow,
        [
            f"{at('a', 'switch-join')}: a case of the switch goes straight into join step "
            "'join'; add a step between them on that path"
        ],
    ),
    (
        lint_cases.SwitchLongLoopFlow,
        [
            f"{at('b', 'switch-loop')}: the flow loops: a -> b -> a; break the loop in the "
            "self.next() calls"
        ],
    ),
    (
        lint_cases.CatchOnSwitchFlow,
        [
            f"{at('start', 'switch-catch')}: @catch is not supported on a switch step, which "
            "cannot choose a case once it failed; move the work that may fail into another step"
        ],
    ),
]


@pytest.mark.parametrize(("flow", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_rule_reports_the_step_and_its_line(flow: type[FlowSpec], expected: list[str]) -> None:
    assert findings(flow) == expected


def test_a_join_that_misses_a_branch_names_both_counts() -> None:
    assert findings(lint_cases.JoinMissesBranchFlow) == [
        f"{at('join', 'misses')}: this join is reached from 2 steps (a, b) but the split at "
        "step 'start' opened 3 branches (a, b, c); every branch must reach it",
        f"step 'end' ({FILE}:{at_line('end', lint_cases.JoinMissesBranchFlow)}): the flow "
        "reaches end while the split at step 'start' (into a, b, c) is not joined; "
        "add a join step before end",
    ]


def at_line(step: str, flow: type[FlowSpec]) -> int:
    return FlowGraph(flow)[step].lineno
