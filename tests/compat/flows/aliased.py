"""A flow whose steps import asyncflow's Metaflow-named modules through an alias package,
the way code that still says ``metaflow`` reaches asyncflow: ``aliased.X`` loads as the
module ``asyncflow.X``, swapped into ``sys.modules`` while it loads. Sixteen foreach
tasks import at once, from the engine's worker threads."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Sequence
from importlib.machinery import ModuleSpec

from asyncflow import FlowSpec, step
from asyncflow.exceptions import AsyncflowException


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith("aliased."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        sys.modules[name] = importlib.import_module("asyncflow." + name[len("aliased.") :])


sys.modules.setdefault("aliased", types.ModuleType("aliased")).__path__ = []
sys.meta_path.append(_Alias())


class AliasedFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.items = list(range(16))
        self.next(self.inner, foreach="items")

    @step
    def inner(self) -> None:
        from aliased.exception import MetaflowException  # type: ignore[import-not-found]
        from aliased.metaflow_current import current  # type: ignore[import-not-found]

        self.seen = (current.step_name, MetaflowException is AsyncflowException)
        self.next(self.join)

    @step
    def join(self, inputs: list[AliasedFlow]) -> None:
        self.seen_by_all = sorted({i.seen for i in inputs})
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    AliasedFlow()
