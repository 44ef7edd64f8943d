"""invspark.spark.session: shuffle partitions sized from the input unless the user set them."""

from __future__ import annotations

import pytest

from invspark.spark.session import DEFAULTED_CONF, size_shuffle_partitions

pytestmark = pytest.mark.spark

KEY = "spark.sql.shuffle.partitions"


def test_a_user_setting_is_kept(spark, tmp_path):
    # The suite's session sets the partitions itself, as spark-submit or a run config would.
    assert KEY not in spark.conf.get(DEFAULTED_CONF).split(",")
    (tmp_path / "part-0.parquet").write_bytes(b"\0" * (100 * 2**20))
    assert size_shuffle_partitions(spark, str(tmp_path)) == 4
    assert spark.conf.get(KEY) == "4"


def test_a_default_is_replaced_by_one_partition_per_8_mb_on_disk(spark, tmp_path):
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    (big / "part-0.parquet").write_bytes(b"\0" * (100 * 2**20))
    (big / "part-1.parquet").write_bytes(b"\0" * (61 * 2**20))
    (small / "part-0.parquet").write_bytes(b"\0" * 1024)
    defaulted = spark.conf.get(DEFAULTED_CONF)
    spark.conf.set(DEFAULTED_CONF, f"{defaulted},{KEY}")
    try:
        assert size_shuffle_partitions(spark, str(big)) == 21  # ceil(161 MiB / 8 MiB)
        assert spark.conf.get(KEY) == "21"
        assert size_shuffle_partitions(spark, str(small)) == 2 * spark.sparkContext.defaultParallelism
    finally:
        spark.conf.set(DEFAULTED_CONF, defaulted)
        spark.conf.set(KEY, "4")
