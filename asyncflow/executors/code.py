"""Code packages: a flow's source, stored once per run in the blob store by its hash.

A flow class importable from a file is packaged as a tar of that file and of
what the flow imported from its own directory (or its top-level package); the
worker unpacks it into a cache directory named by the hash and imports the
module from there. A class with no file behind it (defined in a notebook, or
inside a function) is pickled by value instead.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from types import ModuleType

import cloudpickle

from ..flowspec import FlowSpec
from ..store import Datastore
from .spec import CodeRef

__all__ = ["as_launched", "load_flow", "package_flow"]

#: Installed with asyncflow on every worker; never shipped.
_NOT_SHIPPED = ("asyncflow", "serializers")


def package_flow(flow_cls: type[FlowSpec], datastore: Datastore) -> CodeRef:
    """Store ``flow_cls``'s code package (blocking; once per run) and return its reference."""
    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    if module is None or file is None or "<locals>" in flow_cls.__qualname__:
        return _store(datastore, cloudpickle.dumps(flow_cls), "", flow_cls.__qualname__)
    root, name = _package_root(Path(file).resolve(), flow_cls.__module__)
    files = _shipped_files(root, Path(file).resolve(), name.split(".")[0])
    return _store(datastore, _tar(root, files), name, flow_cls.__qualname__, str(root))


def _store(
    datastore: Datastore, blob: bytes, module: str, qualname: str, origin: str = ""
) -> CodeRef:
    key = datastore.blobs.write([blob])
    datastore.lease.add(key)  # kept from gc for as long as this process runs
    return CodeRef(key, module, qualname, origin)


def as_launched(ref: CodeRef, text: str) -> str:
    """``text`` (a traceback) with the package's unpacked paths shown as where it came from."""
    return (
        text.replace(str(_unpacked(ref.key)) + os.sep, ref.origin + os.sep) if ref.origin else text
    )


def _package_root(file: Path, module_name: str) -> tuple[Path, str]:
    """The directory to put on ``sys.path`` and the module's name relative to it."""
    last = module_name.rpartition(".")[2]
    if last != file.stem and file.name != "__init__.py":
        # a script (__main__) or a file loaded by path (Runner("flow.py")): by its file name
        folder, parts = file.parent, [file.stem]
    else:
        parts = module_name.split(".")
        folder = file.parent if file.name != "__init__.py" else file.parent.parent
        for _ in parts[:-1]:
            folder = folder.parent
    return folder, ".".join(parts)


def _shipped_files(root: Path, flow_file: Path, top: str) -> list[Path]:
    """The flow's file, and every loaded module's file in its directory or its package."""
    found = {flow_file}
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        p = Path(path).resolve()
        if not p.is_relative_to(root):
            continue
        first = p.relative_to(root).parts[0].removesuffix(".py")
        if first in _NOT_SHIPPED:
            continue
        if p.parent == flow_file.parent or first == top:
            found.add(p)
    # each package's __init__.py, so the package imports on the worker
    for p in list(found):
        for parent in p.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and init.is_file():
                found.add(init)
    return sorted(found)


def _tar(root: Path, files: list[Path]) -> bytes:
    """A deterministic tar (sorted, no times or owners), so equal code has one hash."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(root)))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


_lock = threading.Lock()
_loaded: dict[CodeRef, type[FlowSpec]] = {}
_code_dirs: set[str] = set()


def load_flow(ref: CodeRef, datastore: Datastore) -> type[FlowSpec]:
    """The flow class of a code package, unpacked and imported once per process."""
    with _lock:
        flow_cls = _loaded.get(ref)  # one package may hold many flows
        if flow_cls is None:
            flow_cls = _loaded[ref] = _import(ref, datastore)
        return flow_cls


def _import(ref: CodeRef, datastore: Datastore) -> type[FlowSpec]:
    blob = bytes(datastore.blobs.get(ref.key))
    if not ref.module:
        flow_cls = cloudpickle.loads(blob)
    else:
        folder = _unpack(ref.key, blob)
        _forget_other_packages(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        obj: object = importlib.import_module(ref.module)
        for part in ref.qualname.split("."):
            obj = getattr(obj, part)
        flow_cls = obj
    if not (isinstance(flow_cls, type) and issubclass(flow_cls, FlowSpec)):
        raise TypeError(f"code package {ref.key} holds {flow_cls!r}, not a FlowSpec subclass")
    return flow_cls


def _unpacked(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"asyncflow-code-{os.getuid()}" / key


def _unpack(key: str, blob: bytes) -> str:
    folder = _unpacked(key)
    base = folder.parent
    if not folder.is_dir():
        base.mkdir(exist_ok=True, mode=0o700)
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=".unpack-"))
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        try:
            tmp.rename(folder)
        except OSError:  # another process unpacked it first: the same content
            shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


def _forget_other_packages(folder: str) -> None:
    """Drop modules imported from another code package, so this one's are imported fresh."""
    others = [d for d in _code_dirs if d != folder]
    _code_dirs.add(folder)
    if not others:
        return
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None) or ""
        if isinstance(mod, ModuleType) and any(path.startswith(d + os.sep) for d in others):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in others]
