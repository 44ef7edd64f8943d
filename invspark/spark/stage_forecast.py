"""Stage `forecast`: one vectorized `forecast_bucket` call per hash bucket of series.

The packed result (one row per series with the horizon as arrays and the backtest errors as a
list of structs) is persisted once; native Spark then explodes it into `demand_forecast`,
selects `demand_distribution` and sums the backtest errors into `forecast_accuracy` per
model x segment x fold (the same formulas as `invspark.stages.forecast.accuracy_from_backtest`).
"""

from __future__ import annotations

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from invspark.config import RunConfig
from invspark.spark.arrow_udf import bucket_udf, by_bucket
from invspark.spark.context import RunContext, StageResult
from invspark.spark.stage_ingest import read_grid
from invspark.stages.calendar import PeriodGrid
from invspark.stages.forecast import FORECAST_BUCKET_SCHEMA, OUTPUT_QUANTILE_COLUMNS, ForecastSettings, forecast_bucket

DISTRIBUTION_COLUMNS = (
    "sku_id", "location_id", "segment", "abc", "xyz", "demand_pattern", "lifecycle", "model", "distribution",
    "demand_mean", "demand_std", "lead_time_demand_mean", "lead_time_demand_std", "demand_shape", "demand_std_history",
    "adi", "cv2_size",
)


def forecast_settings(config: RunConfig, grid: PeriodGrid) -> ForecastSettings:
    return ForecastSettings(
        frequency=config.frequency,
        horizon=config.horizon,
        n_periods=grid.n_periods,
        backtest_folds=config.forecast.backtest_folds,
        champion_threshold=config.forecast.champion_threshold,
        level_calibration=config.forecast.level_calibration,
        group_seasonality=config.forecast.group_seasonality,
        censored_demand=config.forecast.censored_demand,
    )


def _forecast_arrow(table: pa.Table, settings: ForecastSettings) -> pa.Table:
    """applyInArrow glue: one bucket's panel rows in, its packed forecasts out (`forecast_bucket`
    puts the rows in key order itself, whatever order the shuffle delivered them in)."""
    result = forecast_bucket(table.to_pandas(), settings)
    return pa.Table.from_pandas(result, schema=FORECAST_BUCKET_SCHEMA, preserve_index=False)


def packed_forecasts(panel: DataFrame, settings: ForecastSettings, n_buckets: int) -> DataFrame:
    """One row per series (FORECAST_BUCKET_SCHEMA), computed bucket by bucket."""
    return by_bucket(panel, n_buckets).applyInArrow(
        bucket_udf(_forecast_arrow, settings=settings), from_arrow_schema(FORECAST_BUCKET_SCHEMA)
    )


def demand_forecast(packed: DataFrame, grid: PeriodGrid, horizon: int) -> DataFrame:
    """`demand_forecast` rows: one per series and horizon step, with the step's target date."""
    target_dates = F.array(*[F.lit(d) for d in grid.future_dates(horizon)])
    steps = F.arrays_zip(F.col("mean"), *[F.col(c) for c in OUTPUT_QUANTILE_COLUMNS])
    exploded = packed.select("sku_id", "location_id", "model", F.posexplode(steps).alias("step", "values"))
    return exploded.select(
        "sku_id",
        "location_id",
        F.element_at(target_dates, F.col("step") + 1).alias("target_date"),
        (F.col("step") + 1).cast("int").alias("horizon"),
        F.col("values.mean").alias("mean"),
        *[F.col(f"values.{c}").alias(c) for c in OUTPUT_QUANTILE_COLUMNS],
        "model",
    )


def forecast_accuracy(packed: DataFrame) -> DataFrame:
    """`forecast_accuracy` per model x segment x fold from the per-series backtest sums."""
    entries = packed.select("segment", F.explode("backtest").alias("b")).select("segment", "b.*")
    return (
        entries.where(F.col("n_points") > 0)
        .groupBy("model", "segment", "fold")
        .agg(
            # ANSI mode: a fold whose actuals sum to 0 has no WAPE or bias (null), not an error.
            F.try_divide(F.sum("abs_error"), F.sum("actual")).alias("wape"),
            F.avg(F.sqrt(F.try_divide(F.col("squared_scaled_error"), F.col("n_points")))).alias("rmsse"),
            F.try_divide(F.sum("error"), F.sum("actual")).alias("bias"),
            F.try_divide(F.sum("pinball"), F.sum("n_points")).alias("pinball"),
            F.try_divide(F.sum("covered_p90"), F.sum("n_points")).alias("coverage_p90"),
        )
        .withColumn("fold", F.col("fold").cast("int"))
    )


def run(context: RunContext) -> StageResult:
    grid, meta = read_grid(context)
    panel = context.read("stage_series_panel").drop("run_id", "run_date")
    settings = forecast_settings(context.config, grid)
    packed = packed_forecasts(panel, settings, int(meta["n_buckets"])).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        written = context.write(demand_forecast(packed, grid, context.config.horizon), "demand_forecast")
        distribution = context.write(packed.select(*DISTRIBUTION_COLUMNS), "demand_distribution")
        context.write(forecast_accuracy(packed), "forecast_accuracy")
        # one pass over the cached forecasts: a row per chosen model (a handful), for the run log
        models = (packed.groupBy("model")
                  .agg(F.count("*").alias("count"), F.sum("history_stockout_periods").alias("stockouts"))
                  .orderBy(F.desc("count")).collect())
        stockouts = sum(r["stockouts"] or 0 for r in models)
    finally:
        packed.unpersist()
    mix = ", ".join(f"{r['model']} {r['count']:,}" for r in models[:6])
    return StageResult(
        rows_in=int(meta["n_series"]),
        rows_out=int(written.num_rows),
        summary=f"{distribution.num_rows:,} series forecast {context.config.horizon} periods ahead; champions: {mix}; "
                f"{stockouts:,} stockout periods in the history, "
                + ("their lost demand imputed" if settings.censored_demand == "impute" else "their sales kept as lower bounds"),
    )
