"""The large artifacts the benchmarks persist, built deterministically at a given size.

``make(kind, nbytes)`` returns the payload; ``KINDS`` lists them in report order.
numpy, pandas and pyarrow are imported lazily, so listing kinds costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Payloads in report order, with what each stands for.
KINDS: dict[str, str] = {
    "frame_numeric": "pandas DataFrame, 16 float64 columns",
    "frame_strings": "pandas DataFrame, string-heavy (half the size)",
    "arrow_table": "pyarrow Table, 16 float64 columns",
    "numpy_array": "NumPy float64 array",
    "object_array": "plain object holding a NumPy array (cloudpickle path)",
    "dicts": "list of small dicts (1M at 1 GB)",
}

_COLUMNS = 16
_DICTS_PER_GB = 1_000_000


@dataclass
class Holder:
    """An object no dedicated serializer knows: it reaches the pickle fallback."""

    name: str
    array: Any


def nominal_bytes(kind: str, nbytes: int) -> int:
    """The payload's data size for a requested ``nbytes`` (the strings frame is half)."""
    return nbytes // 2 if kind == "frame_strings" else nbytes


def make(kind: str, nbytes: int) -> Any:
    """Build payload ``kind`` holding about ``nbytes`` of data."""
    try:
        maker = _MAKERS[kind]
    except KeyError:
        raise ValueError(f"unknown payload {kind!r}; choose from {', '.join(KINDS)}") from None
    return maker(nbytes)


def _rng() -> Any:
    import numpy as np

    return np.random.default_rng(20261127)


def _floats(count: int) -> Any:
    return _rng().random(max(count, 1))


def _frame_numeric(nbytes: int) -> Any:
    import pandas as pd

    rows = max(nbytes // (8 * _COLUMNS), 1)
    matrix = _floats(rows * _COLUMNS).reshape(rows, _COLUMNS)
    return pd.DataFrame(matrix, columns=[f"c{i}" for i in range(_COLUMNS)])


def _frame_strings(nbytes: int) -> Any:
    import numpy as np
    import pandas as pd

    # Words drawn from a pool: realistic repetition, yet every row is its own string.
    target, width, columns = nbytes // 2, 48, 4
    rows = max(target // (width * columns), 1)
    rng = _rng()
    pool = np.array([f"{i:08d}-" + "x" * (width - 9 - i % 16) for i in range(4096)], dtype=object)
    data: dict[str, Any] = {
        f"s{c}": pd.array(pool[rng.integers(0, len(pool), rows)], dtype="str")
        for c in range(columns)
    }
    data["n"] = np.arange(rows)
    return pd.DataFrame(data)


def _arrow_table(nbytes: int) -> Any:
    import pyarrow as pa

    rows = max(nbytes // (8 * _COLUMNS), 1)
    return pa.table({f"c{i}": _floats(rows) for i in range(_COLUMNS)})


def _numpy_array(nbytes: int) -> Any:
    return _floats(nbytes // 8)


def _object_array(nbytes: int) -> Any:
    return Holder("holder", _floats(nbytes // 8))


def _dicts(nbytes: int) -> Any:
    count = max(nbytes * _DICTS_PER_GB // (1 << 30), 1)
    return [
        {"id": i, "name": f"item-{i}", "score": i * 0.5, "tags": ["a", "b"]} for i in range(count)
    ]


_MAKERS: dict[str, Callable[[int], Any]] = {
    "frame_numeric": _frame_numeric,
    "frame_strings": _frame_strings,
    "arrow_table": _arrow_table,
    "numpy_array": _numpy_array,
    "object_array": _object_array,
    "dicts": _dicts,
}
