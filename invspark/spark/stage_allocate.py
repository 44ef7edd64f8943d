"""Stage `allocate`: DC stock allocation, per bucket of SKUs.

The stores of one SKU share the DC's stock, so rows are grouped by a hash bucket of `sku_id` and
each bucket is one vectorized call of `invspark.network.allocate` (`applyInArrow`).

Allocation rows: every store with a supplying DC (`locations.source_id`) and a `dc_supply` row
for the SKU. A store's need is its policy's `recommended_order_qty`; its stock is its inventory
position floored at 0 (backorders are already in the need); its demand over the allocation
horizon is the forecast's lead-time demand (lead time + review period) unless
`network.allocation_horizon_periods` sets another horizon. Margin = unit_price - unit_cost
(default 1). (Echelon safety-stock placement runs in the policy stage: it sets the store
policies' lead times.)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.network import AllocationSettings, allocate
from invspark.spark.arrow_udf import bucket_udf
from invspark.spark.context import RunContext, StageResult
from invspark.spark.echelon import sku_bucket
from invspark.spark.stage_ingest import read_grid

ALLOCATION_DDL = (
    "sku_id string, dc_id string, location_id string, available_units double, requested_units double, "
    "allocated_units double, fair_share_units double, expected_units_sold double, expected_units_sold_fair_share double"
)


def _schema(ddl: str) -> pa.Schema:
    types = {"string": pa.string(), "double": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in (part.strip().split(" ") for part in ddl.split(","))])


ALLOCATION_SCHEMA = _schema(ALLOCATION_DDL)


def _allocate_arrow(table: pa.Table, settings: AllocationSettings) -> pa.Table:
    result = allocate(table.to_pandas(), settings)
    return pa.Table.from_pandas(result[ALLOCATION_SCHEMA.names], schema=ALLOCATION_SCHEMA, preserve_index=False)


def store_rows(context: RunContext) -> DataFrame:
    """Store policies with their DC, item economics and capacity."""
    policy = context.read("inventory_policy").select(
        "sku_id", "location_id", "recommended_order_qty", "inventory_position", "demand_mean", "demand_std"
    )
    distribution = context.read("demand_distribution").select(
        "sku_id", "location_id", "distribution", "lead_time_demand_mean", "lead_time_demand_std"
    )
    locations = context.read("stage_locations").where(F.col("source_id").isNotNull()).select(
        "location_id", F.col("source_id").alias("dc_id"), "capacity_units"
    )
    items = context.read("stage_items").select("sku_id", "unit_cost", "unit_price", "case_pack")
    return (
        policy.join(distribution, ["sku_id", "location_id"], "left")
        .join(locations, "location_id")
        .join(items, "sku_id", "left")
    )


def allocation_rows(stores: DataFrame, supply: DataFrame, config: RunConfig) -> DataFrame:
    horizon = config.network.allocation_horizon_periods
    if horizon is None:
        demand_mean, demand_std = F.col("lead_time_demand_mean"), F.col("lead_time_demand_std")
    else:
        demand_mean = F.col("demand_mean") * F.lit(horizon)
        demand_std = F.col("demand_std") * F.lit(float(np.sqrt(horizon)))
    return stores.join(supply.select("sku_id", "dc_id", "available_units"), ["sku_id", "dc_id"]).select(
        "sku_id", "dc_id", "location_id", "available_units",
        demand_mean.alias("demand_mean"), demand_std.alias("demand_std"),
        # allocate() values units under a parametric law: an empirical forecast uses the normal
        # law with the forecast's own mean and standard deviation.
        F.when(F.col("distribution") == "empirical", F.lit("normal")).otherwise(F.col("distribution")).alias("distribution"),
        F.greatest(F.col("inventory_position"), F.lit(0.0)).alias("on_hand"),
        F.greatest(F.coalesce(F.col("unit_price") - F.col("unit_cost"), F.lit(1.0)), F.lit(0.0)).alias("unit_margin"),
        F.coalesce(F.col("case_pack").cast("double"), F.lit(1.0)).alias("case_pack"),
        "capacity_units",
        F.col("recommended_order_qty").alias("requested_units"),
    )


def run(context: RunContext) -> StageResult:
    _, meta = read_grid(context)
    allocation = (
        allocation_rows(store_rows(context), context.read("stage_dc_supply"), context.config)
        .groupBy(sku_bucket(int(meta["n_buckets"])))
        .applyInArrow(bucket_udf(_allocate_arrow, settings=AllocationSettings()), ALLOCATION_DDL)
    )
    allocated = context.write(allocation, "allocation")
    return StageResult(
        rows_in=allocated.num_rows, rows_out=allocated.num_rows,
        summary=f"{allocated.num_rows:,} sku x DC x store allocation rows",
    )
