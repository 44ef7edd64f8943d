"""Stage `allocate`: DC stock allocation and echelon safety-stock placement, per bucket of SKUs.

Both decisions couple the stores of one SKU (they share the DC's stock, or the DC's pooled safety
stock), so rows are grouped by a hash bucket of `sku_id` and each bucket is one vectorized call
of `invspark.network.allocate` / `invspark.network.place_safety_stock` (`applyInArrow`).

Allocation rows: every store with a supplying DC (`locations.source_id`) and a `dc_supply` row
for the SKU. A store's need is its policy's `recommended_order_qty`; its stock is its inventory
position floored at 0 (backorders are already in the need); its demand over the allocation
horizon is the forecast's lead-time demand (lead time + review period) unless
`network.allocation_horizon_periods` sets another horizon. Margin = unit_price - unit_cost
(default 1).

Echelon rows: each store of a DC (processing time = its lead time, promised service 0) and
the DC itself (processing time = its supplier lead time; the supplier's committed service time
is 0), holding cost = unit_cost x holding_cost_rate / periods per year, safety factor
z = Phi^-1(service target) (the DC takes its stores' highest target).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy import stats

from invspark.config import RunConfig
from invspark.network import AllocationSettings, allocate, place_safety_stock, placement_summary
from invspark.spark.arrow_udf import bucket_udf
from invspark.spark.context import RunContext, StageResult
from invspark.spark.stage_ingest import read_grid

DEFAULT_HOLDING_COST_RATE = 0.25  # per year, when items gives none

ALLOCATION_DDL = (
    "sku_id string, dc_id string, location_id string, available_units double, requested_units double, "
    "allocated_units double, fair_share_units double, expected_units_sold double, expected_units_sold_fair_share double"
)
ECHELON_DDL = (
    "sku_id string, location_id string, source_id string, echelon string, processing_time double, "
    "service_time_in double, service_time_out double, net_lead_time double, pooled_demand_std double, "
    "safety_stock double, safety_stock_holding_cost double, sku_total_cost double, sku_single_echelon_cost double"
)


def _schema(ddl: str) -> pa.Schema:
    types = {"string": pa.string(), "double": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in (part.strip().split(" ") for part in ddl.split(","))])


ALLOCATION_SCHEMA = _schema(ALLOCATION_DDL)
ECHELON_SCHEMA = _schema(ECHELON_DDL)


def _allocate_arrow(table: pa.Table, settings: AllocationSettings) -> pa.Table:
    result = allocate(table.to_pandas(), settings)
    return pa.Table.from_pandas(result[ALLOCATION_SCHEMA.names], schema=ALLOCATION_SCHEMA, preserve_index=False)


def _place_arrow(table: pa.Table) -> pa.Table:
    frame = table.to_pandas()
    target = frame.pop("service_level_target").to_numpy(dtype=np.float64)
    frame["z"] = stats.norm.ppf(np.clip(target, 0.5, 0.9999))  # (n,) safety factor per node
    placed = place_safety_stock(frame)
    summary = placement_summary(frame).rename(
        columns={"total_cost": "sku_total_cost", "single_echelon_cost": "sku_single_echelon_cost"}
    )
    placed = placed.merge(summary[["sku_id", "sku_total_cost", "sku_single_echelon_cost"]], on="sku_id", how="left")
    return pa.Table.from_pandas(placed[ECHELON_SCHEMA.names], schema=ECHELON_SCHEMA, preserve_index=False)


def _sku_bucket(n_buckets: int):
    return F.pmod(F.xxhash64("sku_id"), F.lit(n_buckets))


def store_rows(context: RunContext) -> DataFrame:
    """Store policies with their DC, item economics and capacity."""
    policy = context.read("inventory_policy").select(
        "sku_id", "location_id", "recommended_order_qty", "inventory_position", "demand_mean", "demand_std",
        "lead_time_mean", "review_period", "service_level_target",
    )
    distribution = context.read("demand_distribution").select(
        "sku_id", "location_id", "distribution", "lead_time_demand_mean", "lead_time_demand_std"
    )
    locations = context.read("stage_locations").where(F.col("source_id").isNotNull()).select(
        "location_id", F.col("source_id").alias("dc_id"), "capacity_units"
    )
    items = context.read("stage_items").select("sku_id", "unit_cost", "unit_price", "case_pack", "holding_cost_rate")
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


def echelon_rows(stores: DataFrame, lead_times: DataFrame, config: RunConfig) -> DataFrame:
    """One row per sku x store and sku x DC of the DC -> store trees."""
    holding_cost = (
        F.coalesce(F.col("unit_cost"), F.lit(1.0))
        * F.coalesce(F.col("holding_cost_rate"), F.lit(DEFAULT_HOLDING_COST_RATE))
        / F.lit(config.periods_per_year)
    ).alias("holding_cost")
    store_nodes = stores.select(
        "sku_id", "location_id", F.col("dc_id").alias("source_id"),
        F.ceil(F.col("lead_time_mean")).cast("double").alias("processing_time"),
        F.lit(None).cast("double").alias("external_service_time"),
        F.lit(0.0).alias("max_service_time_out"),
        holding_cost, "demand_std", "service_level_target",
    )
    default_periods = config.policy.default_lead_time_days / config.period_days
    dcs = stores.groupBy("sku_id", F.col("dc_id").alias("location_id")).agg(
        F.first("unit_cost").alias("unit_cost"),
        F.first("holding_cost_rate").alias("holding_cost_rate"),
        F.max("service_level_target").alias("service_level_target"),
    )
    dcs = dcs.join(lead_times.select("sku_id", "location_id", "lead_time_mean"), ["sku_id", "location_id"], "left")
    dc_nodes = dcs.select(
        "sku_id", "location_id", F.lit(None).cast("string").alias("source_id"),
        F.ceil(F.coalesce(F.col("lead_time_mean"), F.lit(default_periods))).cast("double").alias("processing_time"),
        F.lit(0.0).alias("external_service_time"),
        F.lit(None).cast("double").alias("max_service_time_out"),
        holding_cost, F.lit(None).cast("double").alias("demand_std"), "service_level_target",
    )
    return store_nodes.unionByName(dc_nodes)


def run(context: RunContext) -> StageResult:
    config = context.config
    _, meta = read_grid(context)
    n_buckets = int(meta["n_buckets"])
    stores = store_rows(context)
    supply = context.read("stage_dc_supply")
    allocation = (
        allocation_rows(stores, supply, config)
        .groupBy(_sku_bucket(n_buckets))
        .applyInArrow(bucket_udf(_allocate_arrow, settings=AllocationSettings()), ALLOCATION_DDL)
    )
    allocated = context.write(allocation, "allocation")
    summary = f"{allocated.num_rows:,} sku x DC x store allocation rows"
    rows_out = allocated.num_rows
    if config.network.enabled:
        lead_times = context.read("stage_lead_times")
        placement = echelon_rows(stores, lead_times, config).groupBy(_sku_bucket(n_buckets)).applyInArrow(bucket_udf(_place_arrow), ECHELON_DDL)
        placed = context.write(placement, "echelon_policy")
        totals = context.read("echelon_policy").groupBy("sku_id").agg(
            F.first("sku_total_cost").alias("optimal"), F.first("sku_single_echelon_cost").alias("single")
        ).agg(F.sum("optimal").alias("optimal"), F.sum("single").alias("single")).first()
        if totals["single"]:
            summary += f"; echelon safety-stock cost {totals['optimal']:,.0f} vs {totals['single']:,.0f} single-echelon per period"
        rows_out += placed.num_rows
    return StageResult(rows_in=allocated.num_rows, rows_out=rows_out, summary=summary)

