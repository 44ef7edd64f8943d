"""Network mode: echelon safety-stock placement, per bucket of SKUs, and the store lead times it sets.

Placement couples the stores of one SKU (the DC's safety stock is pooled from them), so the store
rows are grouped by a hash bucket of `sku_id` and each bucket is one vectorized call of
:func:`invspark.stages.echelon.echelon_bucket` (`applyInArrow`). Its `service_time_in` at a store
is the time the DC commits to ship in; :func:`with_network_lead_times` adds it to the store's
lead time, so that the store policy protects the net lead time the placement chose.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from invspark.spark.arrow_udf import bucket_udf
from invspark.spark.context import RunContext
from invspark.stages.echelon import ECHELON_DDL, ECHELON_SCHEMA, echelon_bucket
from invspark.stages.policy import PolicySettings

PLACEMENT_INPUT_COLUMNS = (
    "sku_id", "location_id", "dc_id", "lead_time_mean", "demand_std", "dc_lead_time_mean", "unit_cost",
    "holding_cost_rate", "segment", "service_level_target",
)


def _echelon_arrow(table: pa.Table, settings: PolicySettings, dc_default_lead_time: float) -> pa.Table:
    placed = echelon_bucket(table.to_pandas(), settings, dc_default_lead_time)
    return pa.Table.from_pandas(placed, schema=ECHELON_SCHEMA, preserve_index=False)


def sku_bucket(n_buckets: int):
    return F.pmod(F.xxhash64("sku_id"), F.lit(n_buckets))


def store_rows(context: RunContext, series: DataFrame) -> DataFrame:
    """The series of stores that a DC supplies (`locations.source_id`), with the DC's lead time."""
    dcs = context.read("stage_locations").where(F.col("source_id").isNotNull()).select(
        "location_id", F.col("source_id").alias("dc_id")
    )
    dc_lead_times = context.read("stage_lead_times").select(
        "sku_id", F.col("location_id").alias("dc_id"), F.col("lead_time_mean").alias("dc_lead_time_mean")
    )
    return series.join(dcs, "location_id").join(dc_lead_times, ["sku_id", "dc_id"], "left").select(
        *PLACEMENT_INPUT_COLUMNS
    )


def place(context: RunContext, series: DataFrame, settings: PolicySettings, n_buckets: int):
    """Write `echelon_policy` for the run from the policy inputs `series`; return the write result."""
    config = context.config
    placement = (
        store_rows(context, series)
        .groupBy(sku_bucket(n_buckets))
        .applyInArrow(
            bucket_udf(
                _echelon_arrow, settings=settings,
                dc_default_lead_time=config.policy.default_lead_time_days / config.period_days,
            ),
            ECHELON_DDL,
        )
    )
    return context.write(placement, "echelon_policy")


def with_network_lead_times(series: DataFrame, placement: DataFrame) -> DataFrame:
    """`series` with each placed store's `lead_time_mean` raised by its DC's committed service time."""
    service_in = placement.where(F.col("echelon") == "store").select(
        "sku_id", "location_id", (F.col("service_time_in") - F.col("service_time_out")).alias("_dc_wait")
    )
    columns = [
        (F.col("lead_time_mean") + F.coalesce(F.col("_dc_wait"), F.lit(0.0))).alias("lead_time_mean")
        if name == "lead_time_mean" else F.col(name)
        for name in series.columns
    ]
    return series.join(service_in, ["sku_id", "location_id"], "left").select(*columns)


def placement_totals(placement: DataFrame) -> str:
    """One summary line: the optimal placement's holding cost against the single-echelon plan's."""
    totals = placement.groupBy("sku_id").agg(
        F.first("sku_total_cost").alias("optimal"), F.first("sku_single_echelon_cost").alias("single")
    ).agg(F.sum("optimal").alias("optimal"), F.sum("single").alias("single")).first()
    if not totals or not totals["single"]:
        return "no DC -> store network"
    return f"echelon safety-stock cost {totals['optimal']:,.0f} vs {totals['single']:,.0f} single-echelon per period"
