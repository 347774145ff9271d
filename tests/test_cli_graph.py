"""show / check / output-dot / output-mermaid, and run refusing a broken flow, in a subprocess."""

from __future__ import annotations

from pathlib import Path

from .conftest import REPO, run_python

SHAPES = str(REPO / "tests" / "flows" / "shapes_script.py")
BROKEN = str(REPO / "tests" / "flows" / "broken_script.py")

ORDER = ["start", "left", "right", "join", "fan", "each", "gather", "end"]
EDGES = [
    ("start", "left", ""), ("start", "right", ""), ("left", "join", ""), ("right", "join", ""),
    ("join", "fan", ""), ("fan", "each", "items"), ("each", "gather", ""), ("gather", "end", ""),
]  # fmt: skip


def test_check_accepts_a_valid_flow(tmp_path: Path) -> None:
    proc = run_python(SHAPES, "check", root=tmp_path / "store", check=True)
    assert proc.stdout == "The graph looks good!\n"


def test_show_prints_steps_docs_and_transitions(tmp_path: Path) -> None:
    proc = run_python(SHAPES, "show", root=tmp_path / "store", check=True)
    assert proc.stdout == (
        "Branches, then a foreach.\n\n"
        "Step start\n    Split in two.\n    => left, right\n\n"
        "Step left\n    => join\n\n"
        "Step right\n    => join\n\n"
        "Step join\n    => fan\n\n"
        "Step fan\n    => each (foreach over 'items')\n\n"
        "Step each\n    => gather\n\n"
        "Step gather\n    => end\n\n"
        "Step end\n    (end of flow)\n\n"
    )


def dot_edge(src: str, dst: str, var: str) -> str:
    label = ' [label="foreach ' + var + '"]' if var else ""
    return f'  "{src}" -> "{dst}"{label};'


def mermaid_edge(src: str, dst: str, var: str) -> str:
    arrow = "-->|foreach " + var + "|" if var else "-->"
    return f"    step_{src} {arrow} step_{dst}"


def test_output_dot(tmp_path: Path) -> None:
    proc = run_python(SHAPES, "output-dot", root=tmp_path / "store", check=True)
    ends = ("start", "end")
    nodes = [f'  "{n}" [shape=ellipse];' if n in ends else f'  "{n}";' for n in ORDER]
    edges = [dot_edge(*edge) for edge in EDGES]
    expected = ['digraph "ShapesFlow" {', "  node [shape=box];", *nodes, *edges, "}"]
    assert proc.stdout.splitlines() == expected


def test_output_mermaid(tmp_path: Path) -> None:
    proc = run_python(SHAPES, "output-mermaid", root=tmp_path / "store", check=True)
    ends = ("start", "end")
    nodes = [f"    step_{n}([{n}])" if n in ends else f"    step_{n}[{n}]" for n in ORDER]
    edges = [mermaid_edge(*edge) for edge in EDGES]
    assert proc.stdout.splitlines() == ["flowchart TD", *nodes, *edges]


BROKEN_FINDINGS = (
    "Validating your flow...\n"
    f"    step 'middle' ({BROKEN}:12): a step takes only 'self', or 'self, inputs' when it is "
    "a join; remove the other arguments\n"
    f"    step 'dangling' ({BROKEN}:16): the last statement of a step must be self.next(...)\n"
)


def test_run_refuses_a_broken_flow_without_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = run_python(BROKEN, "run", root=root)
    assert proc.returncode == 1
    assert proc.stderr == BROKEN_FINDINGS
    assert proc.stdout == ""
    assert not root.exists()


def test_check_reports_every_finding(tmp_path: Path) -> None:
    proc = run_python(BROKEN, "check", root=tmp_path / "store")
    assert proc.returncode == 1
    assert proc.stderr == BROKEN_FINDINGS


def test_max_num_splits_from_the_command_line(tmp_path: Path) -> None:
    proc = run_python(SHAPES, "run", "--max-num-splits", "1", root=tmp_path / "store")
    assert proc.returncode == 1
    assert (
        "ForeachError: step 'fan' fans out over self.items, which has 2 items, more than "
        "--max-num-splits (1); raise the limit to run it"
    ) in proc.stdout
    assert "Run ShapesFlow/1 failed in ShapesFlow/1/fan/" in proc.stderr
