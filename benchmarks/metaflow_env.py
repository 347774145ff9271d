"""Metaflow, installed into its own venv (``benchmarks/.venv-metaflow``), never into asyncflow's."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .harness import REPO, log

VENV = REPO / "benchmarks" / ".venv-metaflow"
PACKAGES = ("metaflow", "numpy", "pandas", "pyarrow")


@dataclass
class MetaflowEnv:
    """Where Metaflow runs, or why it cannot."""

    python: str | None
    version: str | None
    problem: str | None = None

    @property
    def available(self) -> bool:
        """Whether Metaflow can run."""
        return self.python is not None


def ensure() -> MetaflowEnv:
    """Create the Metaflow venv if needed; report the version or what went wrong."""
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            log(f"creating {VENV.relative_to(REPO)} with {' '.join(PACKAGES)}")
            _check([sys.executable, "-m", "venv", str(VENV)])
            _check([str(python), "-m", "pip", "install", "--quiet", *PACKAGES])
        version = _check([str(python), "-c", "import metaflow; print(metaflow.__version__)"])
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return MetaflowEnv(None, None, f"Metaflow could not be installed: {detail.strip()[-500:]}")
    return MetaflowEnv(str(python), version.strip())


def flow_script(name: str) -> Path:
    """The path of one of the Metaflow flows."""
    return Path(__file__).resolve().parent / "mf_flows" / name


def _check(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def env_for(extra: dict[str, str]) -> dict[str, str]:
    """Environment of a Metaflow process: local metadata and datastore, a user name."""
    return {"USERNAME": "bench", "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DEFAULT_DATASTORE": "local", **extra}  # fmt: skip


def run_args(script: str, *extra: str, run_id_file: Path) -> list[str]:
    """``flow.py run`` without linting or banner, writing its run id to a file."""
    return [str(flow_script(script)), "--no-pylint", "--quiet", "run",
            "--run-id-file", str(run_id_file), *extra]  # fmt: skip


def read_run_id(path: Path) -> str:
    """The run id Metaflow wrote."""
    return Path(path).read_text().strip()


def tree_bytes(root: Path) -> int:
    """Total size of the files under ``root``."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
