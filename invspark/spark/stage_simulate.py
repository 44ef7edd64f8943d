"""Stage `simulate`: the business-outcome backtest, one `outcome_backtest_bucket` call per hash bucket.

Reads `stage_series_panel` (lead times and review period are already on it, from
`stage_lead_times` and `locations`) joined with the order constraints and costs of
`stage_items`; `groupBy("bucket").applyInArrow` runs `invspark.stages.outcome_backtest`
(forecast at the holdout origin, three policy families at several knobs, simulation on the
holdout); native Spark sums the per-bucket outcomes per policy x segment x knob and derives the
ratios (the same formulas as `invspark.stages.outcome_backtest.outcome_table`), written to
`policy_simulation`. `stage_inventory` is not read: today's stock is the state after the holdout,
not at its origin, so each simulation starts from its policy's order-up-to level instead.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from invspark.config import RunConfig
from invspark.spark.arrow_udf import bucket_udf, by_bucket
from invspark.spark.context import RunContext, StageResult
from invspark.spark.stage_ingest import read_grid
from invspark.stages.outcome_backtest import (
    OUTCOME_SUMS_SCHEMA,
    SUM_COLUMNS,
    OutcomeBacktestSettings,
    outcome_backtest_bucket,
)

ITEM_COLUMNS = ("holding_cost_rate", "ordering_cost", "case_pack", "moq")


def simulation_settings(config: RunConfig, n_periods: int, **overrides) -> OutcomeBacktestSettings:
    """Holdout = the run's horizon; the forecast's backtest folds; ``simulation.reforecast_every``;
    invspark's targets of the run's ``policy.service_level_type``; overrides for the rest."""
    values = dict(frequency=config.frequency, n_periods=n_periods, holdout=config.horizon,
                  backtest_folds=config.forecast.backtest_folds, periods_per_year=config.periods_per_year,
                  reforecast_every=config.simulation.reforecast_every,
                  level_calibration=config.forecast.level_calibration,
                  group_seasonality=config.forecast.group_seasonality,
                  censored_demand=config.forecast.censored_demand,
                  service_level_type=config.policy.service_level_type,
                  service_target_scope=config.policy.service_target_scope)
    values.update(overrides)
    return OutcomeBacktestSettings(**values)


def _outcome_arrow(table: pa.Table, settings: OutcomeBacktestSettings) -> pa.Table:
    """applyInArrow glue: one bucket's panel rows in, its outcome sums out."""
    result = outcome_backtest_bucket(table.to_pandas(), settings)
    return pa.Table.from_pandas(result, schema=OUTCOME_SUMS_SCHEMA, preserve_index=False)


def simulation_inputs(context: RunContext) -> DataFrame:
    panel = context.read("stage_series_panel").drop("run_id", "run_date")
    items = context.read("stage_items").select("sku_id", *[F.col(c).cast("double").alias(c) for c in ITEM_COLUMNS])
    return panel.join(items, "sku_id", "left")


def bucket_sums(inputs: DataFrame, settings: OutcomeBacktestSettings, n_buckets: int) -> DataFrame:
    """One row per bucket x policy x segment x knob (OUTCOME_SUMS_SCHEMA)."""
    return by_bucket(inputs, n_buckets).applyInArrow(
        bucket_udf(_outcome_arrow, settings=settings), from_arrow_schema(OUTCOME_SUMS_SCHEMA)
    )


def policy_simulation(sums: DataFrame, periods_per_year: float) -> DataFrame:
    """`policy_simulation` rows: sums over buckets per policy x segment x knob, then the ratios."""
    totals = sums.groupBy("policy", "segment", "service_level_target").agg(
        *[F.sum(c).alias(c) for c in SUM_COLUMNS]
    )
    return totals.select(
        "policy", "segment", "service_level_target",
        F.try_divide(F.col("filled"), F.col("demand")).alias("fill_rate"),
        (F.lit(1.0) - F.try_divide(F.col("cycles_with_stockout"), F.col("cycles"))).alias("csl"),
        (F.col("on_hand_sum") / F.col("periods")).alias("avg_on_hand"),
        (F.col("stockout_periods") / F.col("n_series")).alias("stockout_periods"),
        "holding_cost",
        "ordering_cost",
        (F.try_divide(F.col("sold"), F.col("on_hand_sum")) * F.lit(float(periods_per_year))).alias("inventory_turns"),
        F.col("lost_units"),
        F.col("n_series").cast("long").alias("n_series"),
        F.col("n_orders"),
    )


def run(context: RunContext) -> StageResult:
    grid, meta = read_grid(context)
    settings = simulation_settings(context.config, grid.n_periods)
    sums = bucket_sums(simulation_inputs(context), settings, int(meta["n_buckets"]))
    written = context.write(policy_simulation(sums, settings.year_periods), "policy_simulation")
    summary_rows = (
        context.read("policy_simulation")
        .where(F.col("service_level_target").isin(0.95, 2.0))
        .groupBy("policy", "service_level_target")
        .agg((F.sum(F.col("fill_rate") * F.col("n_series")) / F.sum("n_series")).alias("fill_rate"),
             F.sum(F.col("avg_on_hand") * F.col("n_series")).alias("stock"))
        .collect()
    )
    summary = "; ".join(f"{r['policy']}@{r['service_level_target']:g}: fill {r['fill_rate']:.3f}, stock {r['stock']:,.0f}"
                        for r in sorted(summary_rows, key=lambda r: r["policy"]))
    return StageResult(rows_in=int(meta["n_series"]), rows_out=int(written.num_rows),
                       summary=f"holdout {settings.holdout} periods; {summary}")
