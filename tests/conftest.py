"""Shared fixtures: one SparkSession for the whole suite, small temporary warehouses."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from invspark.spark.session import get_spark

    session = get_spark(
        "invspark-tests",
        master="local[2]",
        extra_conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"},
    )
    yield session
    session.stop()


BUDGETED_STORE_BUDGET = 25.0  # money for safety stock at the first store: binding on purpose


def _give_one_store_a_safety_stock_budget(locations_dir: str, budget: float) -> None:
    """Rewrite the generated `locations` with a `safety_stock_budget` at its first store (null elsewhere)."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(locations_dir).glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f) for f in files]).replace_schema_metadata(None)  # Spark reads its own schema from it
    stores = [i for i, kind in enumerate(table.column("location_type").to_pylist()) if kind == "store"]
    budgets = [budget if i == stores[0] else None for i in range(table.num_rows)]
    for f in files:
        f.unlink()
    pq.write_table(table.append_column("safety_stock_budget", pa.array(budgets, pa.float64())), Path(locations_dir) / "part-0.parquet")


@pytest.fixture(scope="session")
def small_dataset(spark, tmp_path_factory):
    """A small generated data set (all input tables, some bad rows) and its run config path."""
    from invspark.cli import write_dataset_config
    from invspark.spark.generate import generate_dataset

    root = tmp_path_factory.mktemp("small_dataset")
    data = generate_dataset(spark, str(root / "data"), n_series=120, n_periods=60, frequency="W", seed=11, bad_row_rate=0.01)
    _give_one_store_a_safety_stock_budget(data.locations, BUDGETED_STORE_BUDGET)
    config_path = write_dataset_config(data, root / "data", warehouse=str(root / "warehouse"))
    return data, config_path
