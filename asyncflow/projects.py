"""``@project``: Metaflow's grouping of a flow's runs by project and branch.

A run of a flow decorated ``@project(name="p")`` belongs to a branch: ``user.<user>``
by default, ``test.<b>`` with ``--branch b``, ``prod`` with ``--production`` (``prod.<b>``
with both). The run is tagged ``project:p`` and ``project_branch:<branch>`` and
``current`` reports ``project_name``, ``branch_name``, ``project_flow_name``
(``p.<branch>.<Flow>``) and ``is_production``, as in Metaflow's local mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .exceptions import FlowDefinitionError

__all__ = ["ProjectInfo", "ProjectSpec", "from_tags", "project", "project_spec", "resolve_project"]

T = TypeVar("T", bound=type)

_VALID = re.compile(r"^[a-z0-9_]+$")
_MAX_LEN = 128
_ATTR = "_asyncflow_project"


@dataclass(frozen=True)
class ProjectSpec:
    """What ``@project(...)`` says; ``name`` may be a ``config_expr`` until configs are read."""

    name: Any
    branch: str | None = None
    production: bool = False


@dataclass(frozen=True)
class ProjectInfo:
    """The project and branch of one run, as ``current`` reports them."""

    project_name: str
    branch_name: str
    flow_name: str

    @property
    def project_flow_name(self) -> str:
        """``<project>.<branch>.<Flow>``: the name deployments of this branch use."""
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"

    @property
    def is_production(self) -> bool:
        """Whether the run is on the production branch (``--production``)."""
        return self.branch_name == "prod" or self.branch_name.startswith("prod.")

    @property
    def is_user_branch(self) -> bool:
        """Whether the run is on its user's own branch (neither --branch nor --production)."""
        return self.branch_name.startswith("user.")

    @property
    def tags(self) -> list[str]:
        """The system tags Metaflow gives a run of the project."""
        return [f"project:{self.project_name}", f"project_branch:{self.branch_name}"]


def project(*, name: Any, branch: str | None = None, production: bool = False) -> Callable[[T], T]:
    """Put a flow in project ``name`` (lowercase letters, digits and ``_``).

    ``branch`` and ``production`` are defaults the command line's ``--branch`` and
    ``--production`` (or ``$METAFLOW_BRANCH`` / ``$METAFLOW_PRODUCTION``) override.
    """
    if isinstance(name, str):
        _check_name("@project name", name)
    if branch is not None:
        _check_name("@project branch", branch)
    spec = ProjectSpec(name, branch, bool(production))

    def decorate(flow_cls: T) -> T:
        if not isinstance(flow_cls, type):
            raise FlowDefinitionError("@project decorates a flow class, not a step")
        setattr(flow_cls, _ATTR, spec)
        return flow_cls

    return decorate


def project_spec(flow_cls: type) -> ProjectSpec | None:
    """The ``@project`` of a flow class, or None."""
    spec = getattr(flow_cls, _ATTR, None)
    return spec if isinstance(spec, ProjectSpec) else None


def resolve_project(
    flow_cls: type,
    user: str,
    *,
    branch: str | None = None,
    production: bool = False,
    evaluate: Callable[[Any], Any] = lambda value: value,
) -> ProjectInfo | None:
    """The project and branch of a new run of ``flow_cls`` (None without ``@project``).

    ``evaluate`` turns a ``config_expr`` name into its value.
    """
    spec = project_spec(flow_cls)
    if spec is None:
        return None
    name = evaluate(spec.name)
    if not isinstance(name, str):
        raise FlowDefinitionError(f"@project name must be text, got {name!r}")
    _check_name("@project name", name)
    branch = branch or spec.branch
    production = production or spec.production
    if branch:
        _check_name("the branch name", branch)
        branch_name = f"{'prod' if production else 'test'}.{branch}"
    else:
        branch_name = "prod" if production else f"user.{user}"
    return ProjectInfo(name, branch_name, flow_cls.__name__)


def from_tags(flow_name: str, system_tags: Iterable[str]) -> ProjectInfo | None:
    """The project of a run, read back from its system tags (None if it has none)."""
    found = dict(tag.split(":", 1) for tag in system_tags if ":" in tag)
    if "project" not in found or "project_branch" not in found:
        return None
    return ProjectInfo(found["project"], found["project_branch"], flow_name)


def _check_name(what: str, name: str) -> None:
    if not name:
        raise FlowDefinitionError(f"{what} is empty; try @project(name='some_name')")
    if not _VALID.match(name):
        raise FlowDefinitionError(
            f"{what} {name!r} may contain only lowercase letters, digits and underscores"
        )
    if len(name) > _MAX_LEN:
        raise FlowDefinitionError(f"{what} {name!r} is longer than {_MAX_LEN} characters")
