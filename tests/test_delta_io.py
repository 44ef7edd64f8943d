"""Delta IO: atomic per-run replacement, schema and run checks, statistics, readers.

Runs the delta-rs backend (no Delta JARs here); the spark-delta backend is covered only by its
choice logic and its `replaceWhere` predicate.
"""

from __future__ import annotations

import datetime
import glob
import json
import logging
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable, write_deltalake
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from invspark.errors import ConfigError, InputDataError, TableWriteError
from invspark.spark import delta_io
from invspark.spark.delta_io import (
    DeltaTables,
    WriteResult,
    choose_backend,
    read_delta,
    replace_where,
)
from invspark.spark.delta_stats import parquet_file_stats

pytestmark = pytest.mark.spark

RUN_1 = datetime.date(2012, 1, 4)
RUN_2 = datetime.date(2012, 1, 11)
SCHEMA = (
    "run_id string, sku_id string, horizon int, mean double, "
    "started_at timestamp, run_date date"
)
STARTED_AT = datetime.datetime(2012, 1, 4, 1, 2, 3, 456789)  # micros must survive


def _rows(run_date, n, run_id):
    return [
        (run_id, f"sku{i:03d}", i + 1, 1.5 * i, STARTED_AT + datetime.timedelta(seconds=i),
         run_date)
        for i in range(n)
    ]


@pytest.fixture
def frame(spark):
    def make(run_date, n, run_id, schema=SCHEMA):
        return spark.createDataFrame(_rows(run_date, n, run_id), schema).coalesce(2)

    return make


@pytest.fixture
def tables(spark, tmp_path):
    return DeltaTables(spark, str(tmp_path / "warehouse"))


@pytest.fixture(scope="module")
def refusal_table(spark, tmp_path_factory):
    """One table shared by the tests whose writes must be refused (they leave it unchanged)."""
    tables = DeltaTables(spark, str(tmp_path_factory.mktemp("refusals")))
    rows = spark.createDataFrame(_rows(RUN_1, 4, "good"), SCHEMA).coalesce(2)
    tables.write_table(rows, "demand_forecast", RUN_1)
    return tables


def _parquet_files_on_disk(table_path):
    return sorted(glob.glob(os.path.join(table_path, "**", "*.parquet"), recursive=True))


def _sorted(df):
    return df.orderBy("run_date", "sku_id")


# ---- backend choice ----------------------------------------------------------------------------


def test_backend_choice_picks_delta_rs_here_and_logs_it(spark, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="invspark.spark.delta_io"):
        tables = DeltaTables(spark, str(tmp_path))
    assert tables.backend == "delta-rs"
    assert "Delta backend: delta-rs (no Delta JARs on the classpath)" in caplog.text
    assert delta_io.delta_jars_on_classpath(spark) is False


def test_choose_backend_rules():
    assert choose_backend(None, True) == ("spark-delta", "Delta JARs on the classpath")
    assert choose_backend(None, False) == ("delta-rs", "no Delta JARs on the classpath")
    assert choose_backend("delta-rs", True) == ("delta-rs", "requested")
    assert choose_backend("spark-delta", True) == ("spark-delta", "requested")
    with pytest.raises(ConfigError, match="backend='spark-delta' but the Delta Lake JARs"):
        choose_backend("spark-delta", False)
    with pytest.raises(ConfigError, match="backend='parquet' is not a Delta backend"):
        choose_backend("parquet", False)


def test_explicit_spark_delta_without_jars_is_refused(spark, tmp_path):
    with pytest.raises(ConfigError, match="not on the Spark classpath"):
        DeltaTables(spark, str(tmp_path), backend="spark-delta")


def test_replace_where_predicate_selects_one_run():
    assert replace_where(RUN_1) == "run_date = '2012-01-04'"


# ---- writes and reads --------------------------------------------------------------------------


def test_create_then_read_back_with_spark_deltalake_and_duckdb(spark, tables, frame):
    df = frame(RUN_1, 7, "r1")
    result = tables.write_table(df, "demand_forecast", RUN_1)
    path = tables.table_path("demand_forecast")
    assert isinstance(result, WriteResult)
    assert (result.table_path, result.version, result.num_rows) == (path, 0, 7)
    assert result.num_files == len(DeltaTable(path).file_uris()) >= 1
    assert tables.exists("demand_forecast") and not tables.exists("allocation")

    assert_df_equality(
        _sorted(tables.read_table("demand_forecast")), _sorted(df), ignore_nullable=True
    )
    pandas_frame = DeltaTable(path).to_pandas().sort_values("sku_id", ignore_index=True)
    assert pandas_frame["sku_id"].tolist() == [f"sku{i:03d}" for i in range(7)]
    assert pandas_frame["run_date"].unique().tolist() == [RUN_1]
    # Timestamps round-trip to the microsecond, as UTC instants.
    assert pandas_frame["started_at"][0] == pa.scalar(STARTED_AT, pa.timestamp("us", "UTC")).as_py()

    duckdb = pytest.importorskip("duckdb")
    extension = glob.glob(
        os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_extension_delta", "**",
                     "delta.duckdb_extension"),
        recursive=True,
    )
    assert extension, "duckdb-extension-delta is not installed"
    connection = duckdb.connect()
    connection.execute(f"LOAD '{extension[0]}'")
    count, runs = connection.execute(
        f"SELECT count(*), count(DISTINCT run_date) FROM delta_scan('{path}')"
    ).fetchone()
    assert (count, runs) == (7, 1)


def test_replace_run_replaces_only_that_run_one_version_each(spark, tables, frame):
    versions = [
        tables.write_table(frame(RUN_1, 5, "old"), "inventory_policy", RUN_1).version,
        tables.write_table(frame(RUN_2, 3, "other"), "inventory_policy", RUN_2).version,
        tables.write_table(frame(RUN_1, 2, "new"), "inventory_policy", RUN_1).version,
    ]
    assert versions == [0, 1, 2]
    got = tables.read_table("inventory_policy")
    counts = {
        (row.run_date, row.run_id): row["count"]
        for row in got.groupBy("run_date", "run_id").count().collect()
    }
    assert counts == {(RUN_1, "new"): 2, (RUN_2, "other"): 3}
    assert_df_equality(
        _sorted(tables.read_table("inventory_policy", RUN_1)),
        _sorted(frame(RUN_1, 2, "new")),
        ignore_nullable=True,
    )
    # The old version is still there for time travel: the replacement was a logical remove.
    path = tables.table_path("inventory_policy")
    assert len(DeltaTable(path, version=1).to_pandas()) == 8
    assert DeltaTable(path).history(limit=1)[0]["operation"] == "WRITE"


def test_append_adds_rows_to_the_run(spark, tables, frame):
    tables.write_table(frame(RUN_1, 3, "a"), "runs", RUN_1)
    result = tables.write_table(frame(RUN_1, 2, "b"), "runs", RUN_1, mode="append")
    assert (result.version, result.num_rows) == (1, 2)
    got = tables.read_table("runs", RUN_1)
    assert got.count() == 5
    assert sorted(r.run_id for r in got.select("run_id").distinct().collect()) == ["a", "b"]


def test_write_removes_staging_folders_of_writes_that_died_long_ago(spark, tables, frame):
    tables.write_table(frame(RUN_1, 3, "a"), "runs", RUN_1)
    staging = os.path.join(tables.table_path("runs"), "_staging")
    stale, recent = os.path.join(staging, "dead-write"), os.path.join(staging, "running-write")
    for folder in (stale, recent):
        os.makedirs(os.path.join(folder, "run_date=2012-01-04"))
    day_and_a_bit = datetime.datetime.now().timestamp() - 25 * 3600
    os.utime(stale, (day_and_a_bit, day_and_a_bit))
    tables.write_table(frame(RUN_1, 2, "b"), "runs", RUN_1)
    assert not os.path.exists(stale) and os.path.exists(recent)
    assert tables.read_table("runs", RUN_1).count() == 2


def test_a_new_column_is_added_to_the_table_and_reads_null_for_older_rows(spark, tables, frame):
    tables.write_table(frame(RUN_1, 3, "a"), "demand_forecast", RUN_1)
    wider = frame(RUN_2, 2, "b").selectExpr("*", "CAST(horizon * 10 AS double) AS extra_col")
    result = tables.write_table(wider, "demand_forecast", RUN_2)
    assert result.version == 2  # the metadata-only column addition, then the data commit
    got = {(r["run_id"], r["sku_id"]): r["extra_col"] for r in tables.read_table("demand_forecast").collect()}
    assert got == {("a", "sku000"): None, ("a", "sku001"): None, ("a", "sku002"): None,
                   ("b", "sku000"): 10.0, ("b", "sku001"): 20.0}
    assert "extra_col" in DeltaTable(tables.table_path("demand_forecast")).schema().to_arrow().names


def test_empty_write_creates_table_and_clears_the_run(spark, tables, frame):
    empty = spark.createDataFrame([], SCHEMA)
    created = tables.write_table(empty, "allocation", RUN_1)
    assert (created.version, created.num_files, created.num_rows) == (0, 0, 0)
    read_back = tables.read_table("allocation")
    assert read_back.count() == 0
    assert read_back.schema.simpleString() == empty.schema.simpleString()

    tables.write_table(frame(RUN_1, 4, "r"), "allocation", RUN_1)
    tables.write_table(frame(RUN_2, 2, "r"), "allocation", RUN_2)
    cleared = tables.write_table(empty, "allocation", RUN_1)
    assert (cleared.version, cleared.num_rows) == (3, 0)
    assert tables.read_table("allocation", RUN_1).count() == 0
    assert tables.read_table("allocation").count() == 2


# ---- refusals leave the table unchanged --------------------------------------------------------


def _snapshot(path):
    table = DeltaTable(path)
    return table.version(), sorted(table.file_uris()), _parquet_files_on_disk(path)


@pytest.mark.parametrize(
    ("select", "message"),
    [
        ("run_id, sku_id, mean, started_at, run_date", r"missing columns horizon \(integer\)"),
        (
            "run_id, sku_id, CAST(horizon AS bigint) AS horizon, mean, started_at, run_date",
            r"changed types horizon: table integer, DataFrame long",
        ),
        (
            "run_id, sku_id, horizon, CAST(mean AS string) AS mean, started_at, run_date",
            r"changed types mean: table double, DataFrame string",
        ),
    ],
)
def test_schema_mismatch_is_refused_and_table_unchanged(refusal_table, frame, select, message):
    tables = refusal_table
    path = tables.table_path("demand_forecast")
    before = _snapshot(path)
    bad = frame(RUN_1, 5, "bad").selectExpr(*select.split(", "))
    with pytest.raises(TableWriteError, match=message):
        tables.write_table(bad, "demand_forecast", RUN_1)
    assert _snapshot(path) == before
    assert os.listdir(os.path.join(path, "_staging")) == []


def test_rows_of_another_run_are_refused_and_table_unchanged(refusal_table, frame):
    tables = refusal_table
    path = tables.table_path("demand_forecast")
    before = _snapshot(path)
    mixed = frame(RUN_1, 3, "x").unionByName(frame(RUN_2, 1, "x"))
    with pytest.raises(TableWriteError, match=r"rows with run_date in \['2012-01-11'\]"):
        tables.write_table(mixed, "demand_forecast", RUN_1)
    with_null = frame(RUN_1, 2, "x").selectExpr(
        "run_id", "sku_id", "horizon", "mean", "started_at",
        "IF(horizon = 1, NULL, run_date) AS run_date",
    )
    with pytest.raises(TableWriteError, match=r"run_date in \['null'\]"):
        tables.write_table(with_null, "demand_forecast", RUN_1)
    assert _snapshot(path) == before


def test_failure_between_spark_write_and_commit_keeps_previous_version(
    refusal_table, frame, monkeypatch
):
    tables = refusal_table
    path = tables.table_path("demand_forecast")
    before = _snapshot(path)
    expected = tables.read_table("demand_forecast").toPandas()

    def commit_fails(*args, **kwargs):
        raise RuntimeError("simulated crash before the Delta commit")

    monkeypatch.setattr(delta_io._DeltaRsBackend, "_commit", commit_fails)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tables.write_table(frame(RUN_1, 9, "half"), "demand_forecast", RUN_1)
    # Same version, same referenced files, and no new files left anywhere under the table root.
    assert _snapshot(path) == before
    assert os.listdir(os.path.join(path, "_staging")) == []
    after = tables.read_table("demand_forecast").toPandas()
    assert after.sort_values("sku_id").equals(expected.sort_values("sku_id"))


def test_failure_after_the_commit_landed_keeps_the_new_files(spark, tables, frame, monkeypatch):
    """A post-commit failure (e.g. a checkpoint hook) must not delete files the log references."""
    tables.write_table(frame(RUN_1, 4, "old"), "demand_forecast", RUN_1)
    real_commit = delta_io._DeltaRsBackend._commit

    def commit_then_fail(self, *args, **kwargs):
        real_commit(self, *args, **kwargs)
        raise RuntimeError("simulated post-commit hook failure")

    monkeypatch.setattr(delta_io._DeltaRsBackend, "_commit", commit_then_fail)
    with pytest.raises(RuntimeError, match="post-commit"):
        tables.write_table(frame(RUN_1, 3, "new"), "demand_forecast", RUN_1)
    path = tables.table_path("demand_forecast")
    assert DeltaTable(path).version() == 1
    assert all(os.path.exists(uri) for uri in DeltaTable(path).file_uris())
    assert sorted(DeltaTable(path).to_pandas()["run_id"]) == ["new"] * 3


def test_losing_the_create_race_commits_into_the_other_writers_table(
    spark, tables, frame, monkeypatch
):
    tables.write_table(frame(RUN_1, 4, "first"), "demand_forecast", RUN_1)
    # As if the table did not exist yet when this writer looked, and was created just before
    # its commit.
    monkeypatch.setattr(delta_io._DeltaRsBackend, "_open", lambda self, path: None)
    result = tables.write_table(frame(RUN_2, 2, "second"), "demand_forecast", RUN_2)
    assert result.version == 1
    assert tables.read_table("demand_forecast").count() == 6
    path = tables.table_path("demand_forecast")
    before = _snapshot(path)
    with pytest.raises(TableWriteError, match="changed types mean: table double, DataFrame string"):
        tables.write_table(
            frame(RUN_2, 2, "bad").withColumn("mean", F.col("mean").cast("string")), "demand_forecast", RUN_2
        )
    assert _snapshot(path) == before


def test_frame_and_argument_errors(spark, tables, frame):
    no_run_date = frame(RUN_1, 1, "r").drop("run_date")
    with pytest.raises(TableWriteError, match="has no 'run_date' column"):
        tables.write_table(no_run_date, "runs", RUN_1)
    as_string = frame(RUN_1, 1, "r").withColumn("run_date", F.lit("2012-01-04"))
    with pytest.raises(TableWriteError, match="'run_date' is string, not date"):
        tables.write_table(as_string, "runs", RUN_1)
    with pytest.raises(ConfigError, match="write mode='merge' is unknown"):
        tables.write_table(frame(RUN_1, 1, "r"), "runs", RUN_1, mode="merge")
    with pytest.raises(ConfigError, match="run_date='2012-01-04' must be a datetime.date"):
        tables.write_table(frame(RUN_1, 1, "r"), "runs", "2012-01-04")
    with pytest.raises(ConfigError, match=r"table name='\.\./x' is not a plain identifier"):
        tables.table_path("../x")
    with pytest.raises(InputDataError, match="table 'runs' does not exist"):
        tables.read_table("runs")


# ---- statistics --------------------------------------------------------------------------------


def test_statistics_in_the_log_match_the_files(spark, tables, frame):
    tables.write_table(frame(RUN_1, 20, "r"), "demand_forecast", RUN_1)
    path = tables.table_path("demand_forecast")
    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pylist()
    assert sum(a["num_records"] for a in actions) == 20
    for action in actions:
        data = pq.read_table(os.path.join(path, action["path"]))
        assert action["num_records"] == data.num_rows
        for column in ("horizon", "sku_id", "run_id"):
            assert action[f"min.{column}"] == pc.min(data[column]).as_py()
            assert action[f"max.{column}"] == pc.max(data[column]).as_py()
            assert action[f"null_count.{column}"] == 0
        # Timestamp bounds are milliseconds and bracket the microsecond data.
        low, high = pc.min(data["started_at"]).as_py(), pc.max(data["started_at"]).as_py()
        assert action["min.started_at"] <= low and action["max.started_at"] >= high
        assert action["max.started_at"] - high < datetime.timedelta(milliseconds=1)
        assert "min.mean" not in action or action["min.mean"] is None  # float: no footer bound


def test_parquet_file_stats_on_a_textbook_file(tmp_path):
    long_text = "z" * 40
    table = pa.table(
        {
            "qty": pa.array([5, None, -3, 7], pa.int64()),
            "name": pa.array(["b", "a" * 40, None, long_text]),
            "day": pa.array([datetime.date(2012, 1, d) for d in (4, 11, 1, 2)]),
            "at": pa.array(
                [datetime.datetime(2012, 1, 4, 0, 0, 0, 1500)] * 3 + [None],
                pa.timestamp("us", tz="UTC"),
            ),
            "x": pa.array([1.5, float("nan"), None, 0.5]),
            "units": pa.array([[1.0], None, [], [None]], pa.list_(pa.float64())),
            "empty": pa.array([None] * 4, pa.string()),
        }
    )
    file = tmp_path / "f.parquet"
    pq.write_table(table, file, row_group_size=2)
    stats = parquet_file_stats(pq.read_metadata(file))
    assert stats == {
        "numRecords": 4,
        "minValues": {
            "qty": -3, "name": "a" * 32, "day": "2012-01-01", "at": "2012-01-04T00:00:00.001Z"
        },
        "maxValues": {"qty": 7, "day": "2012-01-11", "at": "2012-01-04T00:00:00.002Z"},
        "nullCount": {"qty": 1, "name": 1, "day": 0, "at": 1, "x": 1, "empty": 4},
    }
    json.dumps(stats)  # JSON-ready


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=30),
    words=st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=30),
    micros=st.lists(st.integers(0, 10**12), min_size=1, max_size=30),
    row_group_size=st.integers(1, 8),
)
def test_parquet_file_stats_bounds_are_valid(
    tmp_path_factory, values, words, micros, row_group_size
):
    n = min(len(values), len(words), len(micros))
    table = pa.table(
        {
            "v": pa.array(values[:n], pa.int64()),
            "w": pa.array(words[:n], pa.string()),
            "t": pa.array([m for m in micros[:n]], pa.timestamp("us", tz="UTC")),
        }
    )
    file = tmp_path_factory.mktemp("stats") / "f.parquet"
    pq.write_table(table, file, row_group_size=row_group_size)
    stats = parquet_file_stats(pq.read_metadata(file))
    assert stats["numRecords"] == n
    for column in ("v", "w", "t"):
        present = [x for x in table[column].to_pylist() if x is not None]
        assert stats["nullCount"][column] == n - len(present)
        if column == "v" and present:
            bounds = (stats["minValues"]["v"], stats["maxValues"]["v"])
            assert bounds == (min(present), max(present))
        if column == "w" and present:
            # Parquet orders strings by UTF-8 bytes; a valid bound holds in that order.
            encoded = [x.encode() for x in present]
            if "w" in stats["minValues"]:
                assert stats["minValues"]["w"].encode() <= min(encoded)
            if "w" in stats["maxValues"]:
                assert stats["maxValues"]["w"].encode() >= max(encoded)
    parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    times = table["t"].to_pylist()
    assert parse(stats["minValues"]["t"]) <= min(times)
    assert parse(stats["maxValues"]["t"]) >= max(times)


# ---- reading Delta inputs ----------------------------------------------------------------------


def test_read_delta_reads_a_table_written_by_deltalake(spark, tmp_path):
    path = str(tmp_path / "sales_delta")
    data = pa.table(
        {
            "sku_id": ["a", "b", "c"],
            "date": pa.array([datetime.date(2012, 1, d) for d in (1, 2, 2)]),
            "units": [1.0, 0.0, 4.0],
        }
    )
    write_deltalake(path, data, partition_by=["date"])
    write_deltalake(path, data.slice(0, 1), partition_by=["date"], mode="overwrite")
    got = read_delta(spark, path)
    assert got.schema.simpleString() == "struct<sku_id:string,date:date,units:double>"
    assert [tuple(r) for r in got.collect()] == [("a", datetime.date(2012, 1, 1), 1.0)]
    with pytest.raises(InputDataError, match="is not a Delta table"):
        read_delta(spark, str(tmp_path / "nothing"))
