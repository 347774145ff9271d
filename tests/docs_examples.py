"""Find and run the fenced examples of a Markdown page (docs/*.md, README.md).

The rules, for page authors (docs/contributing/docs.md says the same):

- A block with ``title="NAME"`` in its fence is a file: it is written to NAME in the
  page's working directory, whatever its language, and not run.
- Other ``python`` blocks run in order, in one namespace per page; ``bash`` blocks run
  with ``bash -euo pipefail`` in the page's working directory, with the test
  interpreter's ``python`` and ``asyncflow`` first on PATH.
- An HTML comment on the line before a fence changes that block:
  ``<!-- run: skip REASON -->`` never runs it (a fragment, a server that would not stop);
  ``<!-- run: fails -->`` runs it and requires it to fail;
  ``<!-- run: needs FIXTURE ... -->`` runs it only when each named pytest fixture is
  available (the fixture returns a mapping of environment variables for the page).
- Blocks in any other language are only shown.

Run one page by hand from a scratch directory (the page writes its files and its store
there): ``PYTHONPATH=$REPO python -m tests.docs_examples $REPO/docs/concepts/flows.md``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "blocks_of", "run_page"]

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*run:\s*(?P<word>[a-z-]+)\s*(?P<rest>.*?)\s*-->\s*$")
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')
_RUNNABLE = {"python", "py", "bash", "sh", "shell"}
_DIRECTIVES = {"skip", "fails", "needs"}


class DocsFormatError(ValueError):
    """A page's fences or run directives cannot be read."""


@dataclass
class Block:
    """One fenced block: where it is, its language, its code and its run directive."""

    page: Path
    line: int  # the line of the first line of code (1-based)
    lang: str
    code: str
    title: str | None = None
    directive: str | None = None
    needs: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.title is None and self.lang in _RUNNABLE and self.directive != "skip"


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        if end == len(lines):
            raise DocsFormatError(f"{page}:{index + 1}: this fence is never closed")
        body = [
            line[len(indent) :] if line.startswith(indent) else line
            for line in lines[index + 1 : end]
        ]
        block = Block(page, index + 2, (info.split() or [""])[0].lower(), "\n".join(body) + "\n")
        title = _TITLE.search(info)
        block.title = title["title"] if title else None
        _read_directive(block, lines[index - 1] if index else "")
        found.append(block)
        index = end + 1
    return found


def _read_directive(block: Block, previous: str) -> None:
    match = _DIRECTIVE.match(previous)
    if not match:
        if "<!--" in previous and "run:" in previous:
            raise DocsFormatError(f"{block.page}:{block.line - 1}: unreadable run directive")
        return
    word = match["word"]
    if word not in _DIRECTIVES:
        raise DocsFormatError(
            f"{block.page}:{block.line - 1}: unknown run directive {word!r} "
            f"(known: {', '.join(sorted(_DIRECTIVES))})"
        )
    block.directive = word
    if word == "needs":
        block.needs = match["rest"].split()
        if not block.needs:
            raise DocsFormatError(f"{block.page}:{block.line - 1}: `needs` names no fixture")


class BlockFailed(Exception):
    """A block did not do what its page promises."""


def run_page(page: Path, workdir: Path, skip_needs: frozenset[str] = frozenset()) -> list[Block]:
    """Run ``page``'s blocks in ``workdir``; return the blocks run. Raise BlockFailed."""
    module = types.ModuleType("docs_page_" + re.sub(r"\W", "_", page.stem))
    module.__file__ = str(workdir / "page.py")
    sys.modules[module.__name__] = module
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran: list[Block] = []
    previous_cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for block in blocks_of(page):
            if block.title is not None:
                target = workdir / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding="utf-8")
            elif block.runs and not set(block.needs) & skip_needs:
                _run_block(block, module, workdir, env)
                ran.append(block)
    finally:
        os.chdir(previous_cwd)
        sys.modules.pop(module.__name__, None)
    return ran


def _run_block(block: Block, module: types.ModuleType, workdir: Path, env: dict[str, str]) -> None:
    if block.lang in {"python", "py"}:
        failure = _exec_python(block, module, workdir)
    else:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code], cwd=workdir, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        failure = None
        if proc.returncode != 0:
            failure = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    if block.directive == "fails" and failure is None:
        raise BlockFailed(f"{block.where}: the block is marked `fails` but succeeded")
    if block.directive != "fails" and failure is not None:
        raise BlockFailed(f"{block.where}: the {block.lang} block failed:\n{failure}")


def _exec_python(block: Block, module: types.ModuleType, workdir: Path) -> str | None:
    # A real file, padded so its line numbers are the page's: tracebacks point at the page,
    # and inspect.getsource (which a flow's graph needs) finds the classes defined here.
    source = workdir / ".docs" / f"{block.page.name}-line{block.line}.py"
    source.parent.mkdir(exist_ok=True)
    source.write_text("\n" * (block.line - 1) + block.code, encoding="utf-8")
    try:
        exec(compile(source.read_text(), str(source), "exec"), module.__dict__)
    except BaseException:
        return traceback.format_exc()
    return None


def main() -> None:
    """``python -m tests.docs_examples PAGE [--skip-needs FIXTURE]...``: run PAGE here."""
    page, *rest = sys.argv[1:]
    skip = frozenset(rest[i + 1] for i, arg in enumerate(rest) if arg == "--skip-needs")
    try:
        ran = run_page(Path(page).resolve(), Path.cwd(), skip)
    except (BlockFailed, DocsFormatError) as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    print(f"{page}: {len(ran)} block(s) ran")


if __name__ == "__main__":
    main()
