"""`check`, `show`, `output-dot` and `run --help` on every compat flow; run-time mistakes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ..conftest import run_python

FLOWS = Path(__file__).resolve().parent / "flows"
FLOW_FILES = [
    "hello.py",
    "playlist.py",
    "nested.py",
    "robust.py",
    "artifacts.py",
    "gated.py",
    "iterables.py",
]
COMMANDS = [("check",), ("show",), ("output-dot",), ("run", "--help")]

HELLO_SHOW = """\
A flow that greets whoever runs it.

Running it checks that the install works.

Step start
    Every flow begins with a step called start.
    => hello

Step hello
    Say hello.
    => end

Step end
    Every flow finishes with a step called end.
    (end of flow)

"""


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[int, str]]:
    """Every command on every flow, two processes at a time: (exit code, stdout)."""
    root = tmp_path_factory.mktemp("compat_cli") / "store"
    jobs = [(flow, cmd) for flow in FLOW_FILES for cmd in COMMANDS]

    def one(job: tuple[str, tuple[str, ...]]) -> tuple[int, str]:
        proc = run_python(str(FLOWS / job[0]), *job[1], root=root)
        return proc.returncode, proc.stdout + proc.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, jobs))
    return {
        (flow, " ".join(cmd)): result for (flow, cmd), result in zip(jobs, results, strict=True)
    }


@pytest.mark.parametrize("flow", FLOW_FILES)
def test_every_flow_checks_shows_and_draws(
    outputs: dict[tuple[str, str], tuple[int, str]], flow: str
) -> None:
    code, text = outputs[(flow, "check")]
    assert (code, text) == (0, "The graph looks good!\n")
    code, text = outputs[(flow, "show")]
    assert code == 0 and "Step start\n" in text and "Step end\n" in text
    code, text = outputs[(flow, "output-dot")]
    assert code == 0 and text.startswith("digraph") and text.rstrip().endswith("}")
    assert outputs[(flow, "run --help")][0] == 0


def test_show_prints_the_flow_and_step_docstrings(
    outputs: dict[tuple[str, str], tuple[int, str]],
) -> None:
    assert outputs[("hello.py", "show")] == (0, HELLO_SHOW)
    _, text = outputs[("playlist.py", "show")]
    assert text.startswith("Build a playlist of films in one genre, plus a bonus film from")
    assert "Step start\n    Parse the CSV into columns.\n    => bonus_movie, genre_movies\n" in text
    assert "Step join\n    Bring the two picks together.\n    => end\n" in text


def test_output_dot_draws_foreach_and_branch_edges(
    outputs: dict[tuple[str, str], tuple[int, str]],
) -> None:
    _, dot = outputs[("nested.py", "output-dot")]
    edges = [line.strip() for line in dot.splitlines() if "->" in line]
    assert edges == [
        '"start" -> "per_letter" [label="foreach letters"];',
        '"per_letter" -> "per_size" [label="foreach sizes"];',
        '"per_size" -> "join_sizes";',
        '"join_sizes" -> "join_letters";',
        '"join_letters" -> "numbers";',
        '"numbers" -> "split" [label="foreach nums"];',
        '"split" -> "double";',
        '"split" -> "square";',
        '"double" -> "pair";',
        '"square" -> "pair";',
        '"pair" -> "collect";',
        '"collect" -> "end";',
    ]


def test_run_help_lists_each_parameter_with_its_help(
    outputs: dict[tuple[str, str], tuple[int, str]],
) -> None:
    _, text = outputs[("playlist.py", "run --help")]
    flat = " ".join(text.split())
    for option, help_text in [
        ("--movie_data", "Path to the CSV of films. [default: movies.csv]"),
        ("--genre TEXT", "Only films of this genre. [default: Sci-Fi]"),
        ("--recommendations INTEGER", "How many films to pick. [default: 2]"),
        ("--min_score", "Lowest score a film may have. [default: 0.5]"),
        ("--shuffle BOOLEAN", "Reverse the picks. [default: False]"),
        ("--config JSON", 'Extra settings, as JSON. [default: {"a": 1}]'),
        ("--tag TEXT", "Tag the run (repeatable)."),
    ]:
        assert f"{option}" in flat and help_text in flat
    _, gated = outputs[("gated.py", "run --help")]
    assert "The file that must say 'open'." in " ".join(gated.split())


@pytest.mark.parametrize(
    ("mistake", "failed_step", "message"),
    [
        (
            "conflict",
            "join",
            "UnhandledInMergeArtifactsError: step 'join' cannot merge artifacts whose values "
            "differ between its inputs: side;",
        ),
        (
            "outside",
            "start",
            "MergeArtifactsError: merge_artifacts() works only in a join step, and step "
            "'start' is not one",
        ),
        (
            "assign",
            "start",
            "ParameterReadOnlyError: 'mistake' is a Parameter and cannot be assigned in step "
            "'start'; use another name",
        ),
        ("exit", "start", "StepExitError: the step called sys.exit(3)"),
    ],
)
def test_mistakes_fail_the_run_naming_the_step(
    tmp_path: Path, mistake: str, failed_step: str, message: str
) -> None:
    root = tmp_path / "store"
    proc = run_python(str(FLOWS / "mistakes.py"), "run", "--mistake", mistake, root=root)
    assert proc.returncode == 1
    assert message in proc.stdout
    assert f"Run MistakesFlow/1 failed in MistakesFlow/1/{failed_step}/" in proc.stderr


def test_merge_artifacts_passes_what_the_inputs_agree_on(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = run_python(str(FLOWS / "mistakes.py"), "run", root=root, check=True)
    assert "side=both agreed=1" in proc.stdout


def test_metaflow_command_line_options(tmp_path: Path) -> None:
    """`--no-pylint`, `--metadata local`, `run --with retry` and `--run-id-file` as in Metaflow."""
    root, flow = tmp_path / "store", str(FLOWS / "first_try_fails.py")
    assert run_python(flow, "run", root=root).returncode == 1
    proc = run_python(
        flow, "--no-pylint", "--metadata", "local", "--datastore", "local", "run",
        "--with", "retry:times=1,minutes_between_retries=0", "--run-id-file", "run-id",
        root=root, check=True,
    )  # fmt: skip
    assert "succeeded on attempt 1" in proc.stdout
    assert (tmp_path / "run-id").read_text() == "2"

    unknown = run_python(flow, "run", "--with", "sandbox", root=root)
    assert unknown.returncode == 2
    assert (
        "--with sandbox: unknown decorator 'sandbox'; choose from retry, catch," in unknown.stderr
    )
    remote = run_python(flow, "--metadata", "service", "run", root=root)
    assert remote.returncode == 2 and "'service' is not 'local'" in remote.stderr
