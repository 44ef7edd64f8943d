"""Stage `policy`: `invspark.stages.policy.policy_batch` over Arrow batches of series.

The policy is row-wise, so the joined frame (demand distribution x lead times x item, inventory
and location attributes) is processed with `mapInArrow`: no shuffle, one vectorized call per
batch of up to `spark.sql.execution.arrow.maxRecordsPerBatch` series.
"""

from __future__ import annotations

from functools import partial

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.spark.context import RunContext, StageResult
from invspark.stages.policy import POLICY_DDL, POLICY_SCHEMA, PolicySettings, policy_batch

ITEM_COLUMNS = ("unit_cost", "holding_cost_rate", "ordering_cost", "case_pack", "moq", "service_level_target", "policy")
INVENTORY_COLUMNS = ("on_hand", "on_order", "backorders")


def policy_settings(config: RunConfig) -> PolicySettings:
    policy = config.policy
    return PolicySettings(
        service_level_matrix={abc: dict(row) for abc, row in policy.service_level_matrix.items()},
        service_level_type=policy.service_level_type,
        default_policy=policy.default_policy,
        policy_by_segment=dict(policy.policy_by_segment),
        periods_per_year=config.periods_per_year,
        default_review_period=policy.default_review_period,
    )


def _policy_batches(batches, settings: PolicySettings):
    for batch in batches:
        result = policy_batch(batch.to_pandas(), settings)
        yield pa.RecordBatch.from_pandas(result, schema=POLICY_SCHEMA, preserve_index=False)


def policy_inputs(context: RunContext) -> DataFrame:
    """One row per series: its demand distribution with lead times, item, inventory and location attributes."""
    frame = context.read("demand_distribution").drop("run_id", "run_date", "lead_time_demand_mean", "lead_time_demand_std")
    panel = context.read("stage_series_panel").select("sku_id", "location_id", "lead_time_mean", "lead_time_std", "review_period")
    frame = frame.join(panel, ["sku_id", "location_id"], "left")
    items = context.read("stage_items").select("sku_id", *ITEM_COLUMNS)
    inventory = context.read("stage_inventory").select("sku_id", "location_id", *INVENTORY_COLUMNS)
    locations = context.read("stage_locations").select("location_id", "capacity_units")
    return (
        frame.join(items, "sku_id", "left")
        .join(inventory, ["sku_id", "location_id"], "left")
        .join(locations, "location_id", "left")
    )


def run(context: RunContext) -> StageResult:
    inputs = policy_inputs(context)
    policies = inputs.mapInArrow(partial(_policy_batches, settings=policy_settings(context.config)), POLICY_DDL)
    written = context.write(policies, "inventory_policy")
    exceptions = (
        context.read("inventory_policy").where(F.col("exception").isNotNull()).groupBy("exception").count().collect()
    )
    top = ", ".join(f"{r['exception']} {r['count']:,}" for r in sorted(exceptions, key=lambda r: -r["count"])[:4])
    return StageResult(
        rows_in=written.num_rows,
        rows_out=written.num_rows,
        summary=f"exceptions for review: {top or 'none'}",
    )
