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
