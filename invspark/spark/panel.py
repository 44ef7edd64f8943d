"""Build the series panel from validated inputs: history read once, grouped once.

Native Spark aggregations collect each series' rows into one list (the only shuffle of the long
sales rows), attach the location's active periods, the planned promotions, the category mean at
the location, item attributes, lead times and review periods, and the ABC class (which needs the
whole population's value shares). `invspark.stages.panel.densify_batch` then turns the lists into
dense arrays batch by batch (`mapInArrow`, vectorized across the batch's series). Nothing but the
grid origin, a series-count estimate and a value histogram ever reaches the driver.

The per-period aggregate of sales feeds the series lists, the locations' active periods, the
category means and the ABC values, so it is persisted (memory and disk) until the panel is
written: `Panel.release()` frees it. The bucket count comes from a HyperLogLog estimate of the
series count (2% relative error is plenty to size buckets); the exact count is the panel write's
row count.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.errors import InputDataError
from invspark.stages.calendar import PeriodGrid
from invspark.stages.panel import densify_batch

ABC_SHARES = (0.80, 0.95)  # cumulative value share closing classes A and B (Pareto convention)
# ABC value histogram: fixed log10 bins over [1e-6, 1e14) money, i.e. 0.01 decade (2.3%) per bin;
# values outside fall into the end bins.
ABC_LOG10_RANGE = (-6.0, 14.0)
ABC_HISTOGRAM_BINS = 2000
SERIES_COUNT_RSD = 0.02

PANEL_DDL = (
    "sku_id string, location_id string, bucket int, category string, unit_cost double, unit_price double, "
    "abc string, lead_time_mean double, lead_time_std double, review_period double, "
    "units array<double>, censored array<boolean>, price array<double>, promo array<double>, "
    "category_mean_units array<double>, future_promo array<double>, future_price array<double>"
)


@dataclasses.dataclass(frozen=True)
class Panel:
    frame: DataFrame  # one row per series, columns of PANEL_DDL
    grid: PeriodGrid
    n_buckets: int
    cached: tuple[DataFrame, ...] = ()

    def release(self) -> None:
        """Unpersist what building the panel cached; call after the panel is written."""
        for frame in self.cached:
            frame.unpersist()


def history_grid(sales: DataFrame, config: RunConfig) -> PeriodGrid:
    """The run's period grid, from the earliest valid sales date (one aggregate to the driver)."""
    origin = sales.agg(F.min("date").alias("origin")).collect()[0]["origin"]
    if origin is None:
        raise InputDataError(
            f"inputs.sales: no valid sales row before run_date {config.run_date}; check run_date and the "
            "quarantine table for why rows were rejected"
        )
    if config.frequency == "M":
        origin = origin.replace(day=1) if origin.day <= 28 else origin
    grid = PeriodGrid.spanning(origin, config.frequency, config.run_date)
    if config.forecast.history_periods is not None and grid.n_periods > config.forecast.history_periods:
        start = grid.n_periods - config.forecast.history_periods
        grid = PeriodGrid.spanning(grid.date(start), config.frequency, config.run_date)
    return grid


def period_index(date: Column, grid: PeriodGrid) -> Column:
    """Period index of a date column on the grid (weekly: the period that contains the date)."""
    origin = F.lit(grid.origin)
    if grid.frequency == "D":
        return F.datediff(date, origin)
    if grid.frequency == "W":
        return F.floor(F.datediff(date, origin) / 7).cast("int")
    return ((F.year(date) - grid.origin.year) * 12 + F.month(date) - grid.origin.month).cast("int")


def build_panel(
    tables: dict[str, DataFrame],
    config: RunConfig,
    lead_times: DataFrame | None,
) -> Panel:
    """The series panel of PANEL_DDL from clean inputs (`tables[name]` = validated rows)."""
    sales = tables["sales"]
    grid = history_grid(sales, config)
    horizon = config.horizon
    in_window = sales.withColumn("t", period_index(F.col("date"), grid)).where(F.col("t") >= 0)
    # Several rows of one series and period are lines of that period: summed (see validate.py).
    per_period = in_window.groupBy("sku_id", "location_id", "t").agg(
        F.sum("units").alias("units"),
        F.min("on_hand").alias("on_hand"),
        F.avg("price").alias("price"),
        F.max("promo").alias("promo"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    series = per_period.groupBy("sku_id", "location_id").agg(
        F.collect_list(F.struct("t", "units", "on_hand", "price", "promo")).alias("history")
    )
    # Both sides of the join below are hash-partitioned by the series key: the history lists come
    # from the sales' partitioning, the attributes are shuffled to it once. The history, most of
    # the panel's bytes, is never shuffled (each join on another key used to move it again).
    series = series.join(series_attributes(per_period, tables, grid, config, lead_times), ["sku_id", "location_id"], "left")
    # Per-location tables are small (one row per location): broadcast, so the series stay in place.
    active = per_period.select("location_id", "t").distinct().groupBy("location_id").agg(
        F.collect_list("t").alias("active_t")
    )
    series = series.join(F.broadcast(active), "location_id", "left")
    series = _attach_review_periods(series, tables.get("locations"), config)

    estimate = per_period.agg(
        F.approx_count_distinct(F.xxhash64("sku_id", "location_id"), SERIES_COUNT_RSD).alias("n")
    ).collect()[0]["n"]
    n_buckets = config.buckets.n_buckets(int(estimate))
    series = series.withColumn("bucket", F.pmod(F.xxhash64("sku_id", "location_id"), F.lit(n_buckets)).cast("int"))
    ordered = series.select(
        "sku_id", "location_id", "bucket", "category", "unit_cost", "unit_price", "abc",
        "lead_time_mean", "lead_time_std", "review_period",
        "history", "active_t", "promos", "category_mean",
    )
    densify = partial(_densify_batches, n_periods=grid.n_periods, horizon=horizon)
    frame = ordered.mapInArrow(densify, PANEL_DDL)
    return Panel(frame=frame, grid=grid, n_buckets=n_buckets, cached=(per_period,))


def _densify_batches(batches, n_periods: int, horizon: int):
    for batch in batches:
        yield densify_batch(batch, n_periods, horizon)


def series_attributes(
    per_period: DataFrame,
    tables: dict[str, DataFrame],
    grid: PeriodGrid,
    config: RunConfig,
    lead_times: DataFrame | None,
) -> DataFrame:
    """Everything the panel attaches to a series but its history, one row per series.

    Item attributes and the category mean at the location (joined on keys other than the series
    key) come first, while the rows are small; then the planned promotions, the ABC class and
    the lead times, on the series key.
    """
    attributes = per_period.select("sku_id", "location_id").distinct()
    items = tables.get("items")
    if items is not None:
        attributes = attributes.join(items.select("sku_id", "category", "unit_cost", "unit_price"), "sku_id", "left")
        attributes = attributes.join(category_means(per_period, items), ["category", "location_id"], "left")
    else:
        attributes = (
            attributes.withColumn("category", F.lit(None).cast("string"))
            .withColumn("unit_cost", F.lit(None).cast("double"))
            .withColumn("unit_price", F.lit(None).cast("double"))
            .withColumn("category_mean", F.lit(None).cast("array<struct<t:int,mean_units:double>>"))
        )
    if "promotions" in tables:
        promos = (
            tables["promotions"]
            .withColumn("t", period_index(F.col("date"), grid))
            .where((F.col("t") >= 0) & (F.col("t") < grid.n_periods + config.horizon))
            .groupBy("sku_id", "location_id")
            .agg(F.collect_list(F.struct("t", "promo", "price")).alias("promos"))
        )
        attributes = attributes.join(promos, ["sku_id", "location_id"], "left")
    else:
        attributes = attributes.withColumn("promos", F.lit(None).cast("array<struct<t:int,promo:int,price:double>>"))
    attributes = attributes.join(abc_classes(per_period, items, grid, config), ["sku_id", "location_id"], "left")
    return _attach_lead_times(attributes, lead_times, config)


def category_means(per_period: DataFrame, items: DataFrame) -> DataFrame:
    """Mean units per series of each category at each location and period, packed per (category, location)."""
    with_category = per_period.join(items.select("sku_id", "category"), "sku_id").where(F.col("category").isNotNull())
    n_series = with_category.groupBy("category", "location_id").agg(F.countDistinct("sku_id").alias("n_series"))
    totals = with_category.groupBy("category", "location_id", "t").agg(F.sum("units").alias("total"))
    return (
        totals.join(n_series, ["category", "location_id"])
        .withColumn("mean_units", F.col("total") / F.col("n_series"))
        .groupBy("category", "location_id")
        .agg(F.collect_list(F.struct("t", "mean_units")).alias("category_mean"))
    )


def abc_classes(per_period: DataFrame, items: DataFrame | None, grid: PeriodGrid, config: RunConfig) -> DataFrame:
    """ABC class per series by its share of the last year's sales value (A: the top 80%, B: next 15%).

    Value = units x price (the row's price, else the item's unit_price, else 1). The cumulative
    share needs the whole population in value order; instead of a global sort, the values are
    binned on a fixed log scale (ABC_LOG10_RANGE, one small native aggregation), the class
    thresholds are found on that histogram, and each series is classed by its value's bin.
    """
    recent = per_period.where(F.col("t") >= grid.n_periods - int(round(config.periods_per_year)))
    if items is not None:
        recent = recent.join(items.select("sku_id", "unit_price"), "sku_id", "left")
        price = F.coalesce(F.col("price"), F.col("unit_price"), F.lit(1.0))
    else:
        price = F.coalesce(F.col("price"), F.lit(1.0))
    values = recent.groupBy("sku_id", "location_id").agg(F.sum(F.col("units") * price).alias("value"))
    lo, hi = ABC_LOG10_RANGE
    width = (hi - lo) / ABC_HISTOGRAM_BINS
    log_value = F.log10(F.greatest(F.col("value"), F.lit(1e-300)))
    bin_of = F.least(F.greatest(F.floor((log_value - F.lit(lo)) / F.lit(width)), F.lit(0)), F.lit(ABC_HISTOGRAM_BINS - 1)).cast("int")
    histogram = (
        values.where(F.col("value") > 0).groupBy(bin_of.alias("bin")).agg(F.sum("value").alias("value")).collect()
    )
    if not histogram:
        return values.select("sku_id", "location_id", F.lit("C").alias("abc"))
    value_by_bin = np.zeros(ABC_HISTOGRAM_BINS)
    for row in histogram:
        value_by_bin[int(row["bin"])] += float(row["value"])
    share_from_top = np.cumsum(value_by_bin[::-1])[::-1] / value_by_bin.sum()  # share of bins >= b
    # The lowest bin still inside class A: the cumulative share from the top first reaches 80% there.
    a_bin = int(np.max(np.nonzero(share_from_top >= ABC_SHARES[0])[0]))
    b_bin = int(np.max(np.nonzero(share_from_top >= ABC_SHARES[1])[0]))
    return values.select(
        "sku_id",
        "location_id",
        F.when(F.col("value") <= 0, F.lit("C"))
        .when(bin_of >= a_bin, F.lit("A"))
        .when(bin_of >= b_bin, F.lit("B"))
        .otherwise(F.lit("C"))
        .alias("abc"),
    )


def _attach_lead_times(series: DataFrame, lead_times: DataFrame | None, config: RunConfig) -> DataFrame:
    default = config.policy.default_lead_time_days / config.period_days
    if lead_times is None:
        return series.withColumn("lead_time_mean", F.lit(default)).withColumn("lead_time_std", F.lit(0.0))
    joined = series.join(
        lead_times.select("sku_id", "location_id", "lead_time_mean", "lead_time_std"), ["sku_id", "location_id"], "left"
    )
    return joined.withColumn("lead_time_mean", F.coalesce("lead_time_mean", F.lit(default))).withColumn(
        "lead_time_std", F.coalesce("lead_time_std", F.lit(0.0))
    )


def _attach_review_periods(series: DataFrame, locations: DataFrame | None, config: RunConfig) -> DataFrame:
    default = F.lit(config.policy.default_review_period)
    if locations is None:
        return series.withColumn("review_period", default)
    joined = series.join(F.broadcast(locations.select("location_id", "review_period")), "location_id", "left")
    return joined.withColumn("review_period", F.coalesce("review_period", default))

