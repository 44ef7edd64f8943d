"""Stage `policy`: echelon placement (network mode), then `policy_batch` over Arrow batches of series.

With `network.enabled`, the stage first places safety stock across each SKU's DC -> store tree
(`invspark.spark.echelon`, written to `echelon_policy`) and then gives each placed store the
lead time its policy must protect: its own lead time plus the service time its DC commits to.

The policy itself is row-wise, so the joined frame (demand distribution x lead times x item,
inventory and location attributes) is processed with `mapInArrow`: no shuffle, one vectorized
call per batch of up to `spark.sql.execution.arrow.maxRecordsPerBatch` series. Where locations
carry a `safety_stock_budget`, the budget couples a location's SKUs, so the rows are grouped by a
hash bucket of `location_id` instead (`applyInArrow`, one call per bucket of locations). With
`policy.service_target_scope: segment` the rows of a segment meet its service target together, so
they are grouped by a hash bucket of the series (of the location where budgets apply too): each
bucket's segment is one pool, the same whatever the partitioning.
"""

from __future__ import annotations

from functools import partial

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.spark import echelon
from invspark.spark.arrow_udf import bucket_udf
from invspark.spark.context import RunContext, StageResult
from invspark.spark.stage_ingest import read_grid
from invspark.stages.policy import POLICY_DDL, POLICY_SCHEMA, PolicySettings, policy_batch

ITEM_COLUMNS = ("unit_cost", "holding_cost_rate", "ordering_cost", "case_pack", "moq", "service_level_target", "policy")
INVENTORY_COLUMNS = ("on_hand", "on_order", "backorders")


def policy_settings(config: RunConfig) -> PolicySettings:
    policy = config.policy
    return PolicySettings(
        service_level_matrix={abc: dict(row) for abc, row in policy.service_level_matrix.items()},
        service_level_type=policy.service_level_type,
        service_target_scope=policy.service_target_scope,
        default_policy=policy.default_policy,
        policy_by_segment=dict(policy.policy_by_segment),
        periods_per_year=config.periods_per_year,
        default_review_period=policy.default_review_period,
    )


def _policy_arrow(table: pa.Table, settings: PolicySettings) -> pa.Table:
    result = policy_batch(table.to_pandas(), settings)
    return pa.Table.from_pandas(result, schema=POLICY_SCHEMA, preserve_index=False)


def _policy_batches(batches, settings: PolicySettings):
    for batch in batches:
        result = policy_batch(batch.to_pandas(), settings)
        yield pa.RecordBatch.from_pandas(result, schema=POLICY_SCHEMA, preserve_index=False)


def coupling_bucket(by_location: bool, n_buckets: int) -> Column:
    """The hash bucket of rows whose policies are coupled: a budget couples a location's series (so
    by location), a pooled service target a segment's (so by series); fixed groups, not Arrow batches."""
    key = F.xxhash64("location_id") if by_location else F.xxhash64("sku_id", "location_id")
    return F.pmod(key, F.lit(n_buckets))


def policies_by_bucket(inputs: DataFrame, settings: PolicySettings, bucket: Column) -> DataFrame:
    """`policy_batch` once per `bucket` value (`applyInArrow`)."""
    return inputs.groupBy(bucket).applyInArrow(bucket_udf(_policy_arrow, settings=settings), POLICY_DDL)


def series_inputs(context: RunContext) -> DataFrame:
    """One row per series: its demand distribution with lead times, item, inventory and location attributes."""
    frame = context.read("demand_distribution").drop("run_id", "run_date", "lead_time_demand_mean", "lead_time_demand_std")
    panel = context.read("stage_series_panel").select("sku_id", "location_id", "lead_time_mean", "lead_time_std", "review_period")
    frame = frame.join(panel, ["sku_id", "location_id"], "left")
    items = context.read("stage_items").select("sku_id", *ITEM_COLUMNS)
    inventory = context.read("stage_inventory").select("sku_id", "location_id", *INVENTORY_COLUMNS)
    locations = context.read("stage_locations").select("location_id", "capacity_units", "safety_stock_budget")
    return (
        frame.join(items, "sku_id", "left")
        .join(inventory, ["sku_id", "location_id"], "left")
        .join(locations, "location_id", "left")
    )


def policy_inputs(context: RunContext) -> DataFrame:
    """What `policy_batch` gets: `series_inputs`, with the run's echelon placement applied in network mode."""
    series = series_inputs(context)
    if context.config.network.enabled:
        series = echelon.with_network_lead_times(series, context.read("echelon_policy"))
    return series


def run(context: RunContext) -> StageResult:
    settings = policy_settings(context.config)
    _, grid = read_grid(context)
    n_buckets = int(grid["n_buckets"])
    summary = []
    rows_out = 0
    if context.config.network.enabled:
        placed = echelon.place(context, series_inputs(context), settings, n_buckets)
        rows_out += placed.num_rows
        summary.append(echelon.placement_totals(context.read("echelon_policy")))
    budgeted = context.read("stage_locations").where(F.col("safety_stock_budget").isNotNull()).count()
    if budgeted or settings.service_target_scope == "segment":
        policies = policies_by_bucket(policy_inputs(context), settings, coupling_bucket(bool(budgeted), n_buckets))
        if budgeted:
            summary.append(f"safety-stock budgets at {budgeted:,} location(s)")
        if settings.service_target_scope == "segment":
            summary.append("service targets pooled per segment within each bucket of series")
    else:
        policies = policy_inputs(context).mapInArrow(partial(_policy_batches, settings=settings), POLICY_DDL)
    written = context.write(policies, "inventory_policy")
    rows_out += written.num_rows
    exceptions = (
        context.read("inventory_policy").where(F.col("exception").isNotNull()).groupBy("exception").count().collect()
    )
    top = ", ".join(f"{r['exception']} {r['count']:,}" for r in sorted(exceptions, key=lambda r: -r["count"])[:4])
    summary.append(f"exceptions for review: {top or 'none'}")
    return StageResult(rows_in=written.num_rows, rows_out=rows_out, summary="; ".join(summary))
