"""A tiny terminal: runs a command on a pseudo-terminal and replays what it drew."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_CONTROL = re.compile(r"\x1b\[(\d*)([A-Za-z])|\r|\n|[^\x1b\r\n]+")


def screen(text: str) -> list[str]:
    """The lines left on screen after ``text`` (understands the live view's ``F`` and ``J``)."""
    lines, row = [""], 0
    for match in _CONTROL.finditer(text):
        token, number, command = match.group(0), match.group(1), match.group(2)
        if command == "F":
            row = max(row - int(number or 1), 0)
            lines[row] = ""
        elif command == "J":
            del lines[row + 1 :]
            lines[row] = ""
        elif token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        elif token != "\r" and command is None:
            lines[row] += token
    return lines[:-1] if lines[-1] == "" else lines


def run_on_pty(
    args: list[str],
    root: Path,
    columns: int = 100,
    *,
    env: dict[str, str] | None = None,
    interrupt_at: Path | None = None,
) -> tuple[int, str]:
    """Run the test interpreter with ``args`` on a pseudo-terminal; exit code and output.

    ``interrupt_at`` names a fifo: once the flow writes a line to it, the run gets
    SIGINT, as Ctrl-C would send it.
    """
    master, slave = pty.openpty()
    env = {
        **os.environ, "ASYNCFLOW_HOME": str(root), "PYTHONPATH": str(REPO),
        "COLUMNS": str(columns), "TERM": "xterm", **(env or {}),
    }  # fmt: skip
    env.pop("ASYNCFLOW_DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
        env=env, cwd=root.parent, preexec_fn=_default_sigint,
    )  # fmt: skip
    os.close(slave)
    if interrupt_at is not None:
        threading.Thread(target=_interrupt, args=(proc, interrupt_at), daemon=True).start()
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode()


def _default_sigint() -> None:
    # A test run started as a background job inherits SIGINT ignored, and Python keeps it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(proc: subprocess.Popen[bytes], fifo: Path) -> None:
    with open(fifo) as ready:
        ready.readline()
    proc.send_signal(signal.SIGINT)
