from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pyarrow as pa

from serializers import ArrowSerializer
from serializers.testing import SerializerContract


def _table() -> pa.Table:
    return pa.table(
        {
            "i": pa.array([1, None, 3], pa.int32()),
            "s": ["a", None, "c"],
            "t": pa.array([0, 1, 2], pa.timestamp("ms", tz="UTC")),
            "d": pa.array(["x", "y", "x"]).dictionary_encode(),
            "l": [[1], [], None],
        },
        metadata={"origin": "test"},
    )


def _frames() -> list[pd.DataFrame]:
    ranged = pd.DataFrame({"a": [1.5, np.nan], "b": ["x", "y"]})
    return [
        ranged,
        pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}, index=["r1", "r2"]),
        pd.DataFrame({"c": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"])}),
        pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris")}),
        pd.DataFrame({"v": [1, 2]}, index=pd.date_range("2024-01-01", periods=2, freq="h")),
        pd.DataFrame({"v": [1, 2]}, index=pd.Index([10, 20], name="id")),
        pd.DataFrame(
            {"v": [1, 2]},
            index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["k", "s"]),
        ),
        pd.DataFrame({"td": pd.to_timedelta([1, 2], unit="s"), "b": [True, False]}),
        pd.DataFrame({"o": [b"x", None]}, dtype=object),
        pd.DataFrame({3: [1.0]}),
        pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(4, 10, 2, name="row")),
    ]


class TestArrowTableContract(SerializerContract):
    serializer = ArrowSerializer()
    values = [
        _table(),
        pa.table({"x": pa.array([], pa.float64())}),
        pa.concat_tables([_table(), _table()]),
        pa.record_batch({"x": [1, 2, 3]}),
        pa.record_batch({"x": pa.array([], pa.int8())}),
    ]
    declined = [
        [1, 2],
        pa.array([1, 2]),
        pa.chunked_array([[1, 2]]),
        {"x": [1, 2]},
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        assert actual.equals(expected, check_metadata=True)


class TestArrowCompressedContract(TestArrowTableContract):
    serializer = ArrowSerializer(compression="zstd")


class TestArrowLz4Contract(TestArrowTableContract):
    serializer = ArrowSerializer(compression="lz4")


class _Subframe(pd.DataFrame):  # type: ignore[misc]
    pass


class TestArrowPandasContract(SerializerContract):
    serializer = ArrowSerializer()
    values = _frames()
    declined = [
        pd.DataFrame({"m": [1, "x"]}, dtype=object),
        pd.DataFrame({"s": ["x", "y"]}, dtype=object),
        pd.DataFrame({"z": [1 + 1j]}),
        pd.DataFrame([[1, 2]], columns=["a", "a"]),
        pd.DataFrame({"a": [dt.date(2024, 1, 1), "x"]}),
        _Subframe({"a": [1]}),
        pd.DataFrame(),  # its RangeIndex of columns would come back as an object Index
        pd.Series([1, 2]),
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        pd.testing.assert_frame_equal(actual, expected, check_freq=True)


class TestArrowPolarsContract(SerializerContract):
    serializer = ArrowSerializer()
    values = [
        pl.DataFrame({"a": [1, None], "b": ["x", None], "c": [[1.0], []]}),
        pl.DataFrame({"e": pl.Series(["lo", "hi"], dtype=pl.Enum(["lo", "hi"]))}),
        pl.DataFrame({"t": [dt.datetime(2024, 1, 1)]}).with_columns(
            pl.col("t").dt.replace_time_zone("Asia/Tokyo")
        ),
        pl.DataFrame({"c": pl.Series(["x", "y"], dtype=pl.Categorical)}),
        pl.DataFrame({"s": [{"k": 1}]}),
        pl.DataFrame(),
    ]
    declined = [
        pl.DataFrame({"o": [object()]}, schema={"o": pl.Object}),
        pl.Series([1, 2]),
        pl.LazyFrame({"a": [1]}),
    ]

    def assert_equal(self, actual: Any, expected: Any) -> None:
        polars.testing.assert_frame_equal(actual, expected)
