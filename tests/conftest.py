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


@pytest.fixture(scope="session")
def small_dataset(spark, tmp_path_factory):
    """A small generated data set (all input tables, some bad rows) and its run config path."""
    from invspark.cli import write_dataset_config
    from invspark.spark.generate import generate_dataset

    root = tmp_path_factory.mktemp("small_dataset")
    data = generate_dataset(spark, str(root / "data"), n_series=120, n_periods=60, frequency="W", seed=11, bad_row_rate=0.01)
    config_path = write_dataset_config(data, root / "data", warehouse=str(root / "warehouse"))
    return data, config_path
