"""Lead times from `receipts`, with native Spark aggregations only (no UDF).

A receipt's lead time is `receipt_date - order_date` in days. Per estimation level

| `lead_time_level` | group |
|---|---|
| `sku_location` | (source_id, sku_id, location_id) |
| `source_location` | (source_id, location_id) |
| `source` | (source_id) |
| `default` | none: `default_lead_time_days`, `default_lead_time_std_days` from the config |

each series takes the first level whose group has at least `min_samples` receipts left after
outliers are removed. A null `source_id` is its own source (e.g. "unknown vendor").

Outliers: a receipt is an outlier of its group when it lies more than `outlier_threshold` robust
standard deviations from the group median, the robust standard deviation being 1.4826 x the
median absolute deviation (MAD), floored at `min_spread_days` so that a group of identical lead
times does not flag a one-day difference (Iglewicz & Hoaglin's modified z-score, threshold 3.5).
Groups with fewer than `min_outlier_samples` receipts flag none. Medians and quantiles are
exact sample values, sorted(samples)[ceil(q n) - 1] (the median of an even count is the lower
middle value), read off each group's histogram of whole days. Outliers are left out of the
mean, std and quantiles and counted in `lead_time_outliers`.

Days are converted to periods of the run's frequency: D = 1 day, W = 7 days, M = 365.25 / 12 days.

Output: one row per (sku_id, location_id) of `targets` (default: the pairs in `receipts`) with
`source_id`, `lead_time_mean`, `lead_time_std` (periods; std 0 where one sample), 
`lead_time_samples` (receipts used at the chosen level), `lead_time_level`,
`lead_time_outliers` (receipts of that group dropped as outliers), and the empirical summary
`lead_time_p50`, `lead_time_p90`, `lead_time_max` (periods, of the receipts used).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from invspark.errors import ConfigError, InputDataError

PERIOD_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}
# Estimation levels, finest first: name and the columns its groups are keyed by.
LEVELS = (
    ("sku_location", ("source_id", "sku_id", "location_id")),
    ("source_location", ("source_id", "location_id")),
    ("source", ("source_id",)),
)
MAD_TO_STD = 1.4826
# Stands in for a null source_id in group keys (joins on null keys never match).
NO_SOURCE = "\u0000no_source"
# The source of a target with no given source and no receipts at its location: matches nothing,
# so such a target takes the config default rather than the pool of unknown-source receipts.
UNRESOLVED = "\u0000unresolved"


def estimate_lead_times(
    receipts: DataFrame,
    frequency: str,
    min_samples: int = 3,
    default_lead_time_days: float = 7.0,
    default_lead_time_std_days: float = 0.0,
    targets: DataFrame | None = None,
    outlier_threshold: float = 3.5,
    min_spread_days: float = 1.0,
    min_outlier_samples: int = 5,
) -> DataFrame:
    """Lead time per (sku_id, location_id) in periods, with fallbacks (see the module docstring).

    `receipts`: `sku_id`, `location_id`, `order_date`, `receipt_date`, optional `source_id`.
    `targets`: optional `sku_id`, `location_id` (and `source_id`, the supplier of that location)
    for which an estimate is wanted, e.g. every series of the panel: pairs without receipts then
    get the `source_location`, `source` or `default` estimate. Without a `source_id` a target
    takes the source that delivered most receipts of its pair, else of its location, else it
    has none and takes the default.
    """
    if frequency not in PERIOD_DAYS:
        raise ConfigError(f"frequency must be one of {sorted(PERIOD_DAYS)}, got {frequency!r}")
    if min_samples < 1:
        raise ConfigError(f"min_samples (policy.min_lead_time_samples) must be >= 1, "
                          f"got {min_samples!r}")
    if default_lead_time_days < 0 or default_lead_time_std_days < 0:
        raise ConfigError(
            f"default lead time and its std must be >= 0 days, got {default_lead_time_days!r} "
            f"and {default_lead_time_std_days!r}")
    missing = {"sku_id", "location_id", "order_date", "receipt_date"} - set(receipts.columns)
    if missing:
        raise InputDataError(f"receipts lacks columns {sorted(missing)}; map the purchase-order "
                             "extract onto sku_id, location_id, order_date, receipt_date")
    period_days = PERIOD_DAYS[frequency]
    source = F.col("source_id") if "source_id" in receipts.columns else F.lit(None)
    days = F.datediff(F.col("receipt_date"), F.col("order_date")).cast("double")
    clean = (
        receipts.select(
            "sku_id", "location_id",
            F.coalesce(source.cast("string"), F.lit(NO_SOURCE)).alias("source_key"),
            days.alias("days"),
        )
        .where(F.col("days").isNotNull() & (F.col("days") >= 0))
    )

    stats = _level_stats(clean, outlier_threshold, min_spread_days, min_outlier_samples)
    wanted = _targets(clean, targets)
    # One row per target and level, joined to that level's group on (level, keys).
    per_level = wanted.select(
        "sku_id", "location_id", "source_key",
        F.explode(F.array(*[F.lit(i) for i in range(len(LEVELS))])).alias("level_id"),
    ).select("*", *_level_keys(F.col("level_id")))
    joined = per_level.join(stats, ["level_id", "k_source", "k_location", "k_sku"], "left")
    usable = F.coalesce(F.col("samples"), F.lit(0)) >= min_samples
    # min over structs orders by their first field: the finest level with enough receipts.
    best = F.min(F.when(usable, F.struct("level_id", *_STAT_COLUMNS)))
    chosen = joined.groupBy("sku_id", "location_id", "source_key").agg(best.alias("best"))

    level_name = F.lit("default")
    for i, (name, _) in reversed(list(enumerate(LEVELS))):
        level_name = F.when(F.col("best.level_id") == i, F.lit(name)).otherwise(level_name)
    found = F.col("best").isNotNull()
    default_mean = F.lit(float(default_lead_time_days))
    to_periods = F.lit(period_days)

    def pick(stat: str, default: Column) -> Column:
        return F.when(found, F.col(f"best.{stat}")).otherwise(default)

    return chosen.select(
        "sku_id",
        "location_id",
        F.when(F.col("source_key").isin(NO_SOURCE, UNRESOLVED), F.lit(None).cast("string"))
        .otherwise(F.col("source_key")).alias("source_id"),
        (pick("mean", default_mean) / to_periods).alias("lead_time_mean"),
        (F.coalesce(pick("std", F.lit(float(default_lead_time_std_days))), F.lit(0.0))
         / to_periods).alias("lead_time_std"),
        pick("samples", F.lit(0)).cast("long").alias("lead_time_samples"),
        level_name.alias("lead_time_level"),
        pick("outliers", F.lit(0)).cast("long").alias("lead_time_outliers"),
        (pick("p50", default_mean) / to_periods).alias("lead_time_p50"),
        (pick("p90", default_mean) / to_periods).alias("lead_time_p90"),
        (pick("max", default_mean) / to_periods).alias("lead_time_max"),
    )


_STAT_COLUMNS = ("samples", "mean", "std", "outliers", "p50", "p90", "max")
# Stands in for the keys a coarser level does not group by, so that equi-joins match.
ANY = "\u0000any"


def _level_keys(level_id: Column) -> list[Column]:
    """Group keys (k_source, k_location, k_sku) of a row at a level: 0 finest, 2 coarsest."""
    return [
        F.col("source_key").alias("k_source"),
        F.when(level_id <= 1, F.col("location_id")).otherwise(F.lit(ANY)).alias("k_location"),
        F.when(level_id == 0, F.col("sku_id")).otherwise(F.lit(ANY)).alias("k_sku"),
    ]


def _level_stats(clean: DataFrame, threshold: float, min_spread_days: float,
                 min_outlier_samples: int) -> DataFrame:
    """Per level and group: robust fence, then mean/std/quantiles of the receipts inside it.

    Lead times are whole days, so a group is its histogram of days: receipts are counted per
    finest group and day (partial aggregation before the shuffle), the counts are summed per
    level's group, and every statistic is read off the histogram with running counts, exactly.
    All levels share one partitioning, so the windows over the histogram need one shuffle; a
    window over the receipts themselves would buffer a whole `source` group in one task.
    """
    finest = clean.groupBy("source_key", "location_id", "sku_id", "days").agg(F.count(F.lit(1)).alias("n"))
    group = ["level_id", "k_source", "k_location", "k_sku"]
    histogram = (
        finest.select("*", F.explode(F.array(*[F.lit(i) for i in range(len(LEVELS))])).alias("level_id"))
        .select("level_id", "days", "n", *_level_keys(F.col("level_id")))
        .groupBy(*group, "days")
        .agg(F.sum("n").alias("n"))
    )
    whole = Window.partitionBy(*group)
    by_days = whole.orderBy("days")
    frame = histogram.withColumn("n_all", F.sum("n").over(whole))
    frame = _with_quantile(frame, "median", "days", "n", "n_all", by_days, whole, 0.5)
    frame = frame.withColumn("deviation", F.abs(F.col("days") - F.col("median")))
    frame = _with_quantile(frame, "mad", "deviation", "n", "n_all", whole.orderBy("deviation"), whole, 0.5)
    spread = F.greatest(F.col("mad") * F.lit(MAD_TO_STD), F.lit(float(min_spread_days)))
    outlier = (F.col("n_all") >= min_outlier_samples) & (F.col("deviation") > F.lit(float(threshold)) * spread)
    frame = (
        frame.withColumn("kept_n", F.when(outlier, F.lit(0)).otherwise(F.col("n")))
        .withColumn("samples", F.sum("kept_n").over(whole))
        .withColumn("kept_days", F.sum(F.col("kept_n") * F.col("days")).over(whole))
    )
    frame = frame.withColumn("mean", F.when(F.col("samples") > 0, F.col("kept_days") / F.col("samples")))
    frame = _with_quantile(frame, "p50", "days", "kept_n", "samples", by_days, whole, 0.5)
    frame = _with_quantile(frame, "p90", "days", "kept_n", "samples", by_days, whole, 0.9)
    samples = F.first("samples")
    squares = F.sum(F.col("kept_n") * (F.col("days") - F.col("mean")) ** 2)
    return frame.groupBy(*group).agg(
        samples.alias("samples"),
        F.first("mean").alias("mean"),
        F.when(samples > 1, F.sqrt(squares / (samples - 1))).alias("std"),
        F.sum(F.col("n") - F.col("kept_n")).alias("outliers"),
        F.first("p50").alias("p50"),
        F.first("p90").alias("p90"),
        F.max(F.when(F.col("kept_n") > 0, F.col("days"))).alias("max"),
    )


def _with_quantile(frame: DataFrame, name: str, value: str, count: str, total: str, ordered: Window,
                   whole: Window, q: float) -> DataFrame:
    """Add column `name`: the sample q-quantile of each group's histogram (`value` x `count`).

    The smallest value with at least ceil(q n) of the n = `total` samples at or below it, i.e.
    sorted(samples)[ceil(q n) - 1] (what Spark's `percentile_approx` returns on small groups).
    `ordered` orders a group's rows by `value`; rows with equal values share one running count.
    """
    running = f"_{name}_running"
    reached = (F.col(count) > 0) & (F.col(running) >= F.ceil(F.lit(q) * F.col(total)))
    return (
        frame.withColumn(running, F.sum(count).over(ordered))
        .withColumn(name, F.min(F.when(reached, F.col(value))).over(whole))
        .drop(running)
    )


def _targets(clean: DataFrame, targets: DataFrame | None) -> DataFrame:
    """(sku_id, location_id, source_key) to estimate; source from targets, else most receipts."""
    by_pair = _most_frequent_source(clean, ["sku_id", "location_id"]).withColumnRenamed(
        "source_key", "pair_source")
    by_location = _most_frequent_source(clean, ["location_id"]).withColumnRenamed(
        "source_key", "location_source")
    if targets is None:
        keyed = clean.select("sku_id", "location_id").distinct()
        given = F.lit(None).cast("string")
    else:
        missing = {"sku_id", "location_id"} - set(targets.columns)
        if missing:
            raise InputDataError(f"lead-time targets lack columns {sorted(missing)}")
        given = F.col("source_id").cast("string") if "source_id" in targets.columns \
            else F.lit(None).cast("string")
        keyed = targets.select("sku_id", "location_id", given.alias("given_source")).dropDuplicates(
            ["sku_id", "location_id"])
        given = F.col("given_source")
    keyed = keyed.join(by_pair, ["sku_id", "location_id"], "left").join(
        by_location, ["location_id"], "left")
    return keyed.select(
        "sku_id", "location_id",
        F.coalesce(given, F.col("pair_source"), F.col("location_source"), F.lit(UNRESOLVED))
        .alias("source_key"),
    )


def _most_frequent_source(clean: DataFrame, keys: list[str]) -> DataFrame:
    counts = clean.groupBy(*keys, "source_key").agg(F.count(F.lit(1)).alias("n"))
    order = Window.partitionBy(*keys).orderBy(F.col("n").desc(), F.col("source_key"))
    return (counts.withColumn("rank", F.row_number().over(order)).where(F.col("rank") == 1)
            .select(*keys, "source_key"))
