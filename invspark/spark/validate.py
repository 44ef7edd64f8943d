"""Input validation: every input row is either used or quarantined with a reason, never dropped.

Each table goes through three passes, and a row carries the reason of the first rule it breaks:

1. row rules: a required key or value that is null, a value that does not parse as its contract
   type (`invalid_<column>`), a value out of range (`negative_units`, `invalid_promo`, ...),
   sales on or after `run_date`, weekly sales off the data's own weekday grid;
2. duplicates among the rows that passed: an exact copy of another row is `duplicate_row` (a
   double-loaded feed); in every table but `sales`, a second row with the same key and other values
   is `duplicate_key` (which one is kept is deterministic: the first by the row's JSON). In `sales`,
   rows with the same (sku_id, location_id, date) and different values are several lines of one
   period (e.g. transactions) and are summed when the panel is built;
3. references: rows of `inventory`, `receipts`, `promotions` and `dc_supply` whose SKU or location
   is unknown (in neither the master table nor `sales`), `dc_supply` rows whose `dc_id` is not a
   location, and `locations` whose `source_id` is not a location.

All passes are native Spark expressions (no Python UDF); the whole row is kept as JSON in
`quarantine.record`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from invspark.config import POLICIES
from invspark.errors import InputDataError
from invspark.spark.input_schemas import INPUT_COLUMNS, INPUT_KEYS

REASON = "_reason"
RECORD = "_record"
QUARANTINE_COLUMNS = ("source", "reason", "record")
# How validation partitions a table (default: its key). Sales by series, the panel's grouping.
PARTITION_KEYS = {"sales": ("sku_id", "location_id")}


@dataclasses.dataclass
class ValidatedTable:
    """One input after validation. `annotated` holds every input row with its reason (null = used)."""

    name: str
    annotated: DataFrame
    clean: DataFrame
    quarantine: DataFrame


@dataclasses.dataclass(frozen=True)
class ValidationCounts:
    """Rows in and quarantined per table, and quarantined rows per (table, reason)."""

    rows_in: dict[str, int]
    rows_quarantined: dict[str, int]
    reasons: dict[tuple[str, str], int]

    @property
    def total_in(self) -> int:
        return sum(self.rows_in.values())

    @property
    def total_quarantined(self) -> int:
        return sum(self.rows_quarantined.values())


@dataclasses.dataclass
class Validation:
    """The validated inputs and their counts; `release()` frees what validation cached."""

    tables: dict[str, ValidatedTable]
    counts: ValidationCounts
    cached: list[DataFrame]

    def release(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def typed_frame(raw: DataFrame, name: str) -> DataFrame:
    """Contract columns cast with `try_cast`, each with an `_invalid_<col>` flag, plus the raw row as JSON.

    Columns the contract lists but the input lacks become typed nulls. Strings are trimmed and an
    empty string is null.
    """
    columns = [F.to_json(F.struct(*[F.col(f"`{c}`") for c in raw.columns])).alias(RECORD)]
    for spec in INPUT_COLUMNS[name]:
        if spec.name not in raw.columns:
            columns.append(F.lit(None).cast(spec.sql_type).alias(spec.name))
            columns.append(F.lit(False).alias(f"_invalid_{spec.name}"))
            continue
        source = F.col(spec.name)
        if spec.sql_type == "string":
            trimmed = F.trim(source.cast("string"))
            value = F.when(trimmed == "", None).otherwise(trimmed)
        else:
            value = source.try_cast(spec.sql_type)
        columns.append(value.alias(spec.name))
        columns.append((source.isNotNull() & value.isNull() & (F.trim(source.cast("string")) != "")).alias(f"_invalid_{spec.name}"))
    return raw.select(*columns)


def _first_reason(rules: list[tuple[str, Column]]) -> Column:
    """The reason of the first rule whose condition is true (null when none is)."""
    return F.coalesce(*[F.when(condition, F.lit(reason)) for reason, condition in rules], F.lit(None).cast("string"))


def row_rules(name: str, run_date: dt.date, weekly_weekday: int | None) -> list[tuple[str, Column]]:
    """The row rules of one table, in the order they are checked."""
    rules: list[tuple[str, Column]] = []
    for spec in INPUT_COLUMNS[name]:
        rules.append((f"invalid_{spec.name}", F.col(f"_invalid_{spec.name}")))
        if spec.required:
            rules.append((f"null_{spec.name}", F.col(spec.name).isNull()))
    col = F.col
    non_negative = {
        "sales": ("units", "price", "on_hand", "revenue"),
        "items": ("unit_cost", "unit_price", "moq", "holding_cost_rate", "ordering_cost"),
        "locations": ("capacity_units", "safety_stock_budget"),
        "inventory": ("on_order", "backorders"),
        "receipts": ("qty_ordered", "qty_received"),
        "dc_supply": ("available_units",),
        "promotions": ("price",),
    }[name]
    rules += [(f"negative_{c}", col(c) < 0) for c in non_negative]
    if name in ("sales", "promotions"):
        rules.append(("invalid_promo", ~col("promo").isin(0, 1)))
    if name == "sales":
        rules.append(("after_run_date", col("date") >= F.lit(run_date)))
        if weekly_weekday is not None:
            rules.append(("off_grid_date", F.dayofweek(col("date")) != F.lit(weekly_weekday)))
    if name == "items":
        rules += [
            ("invalid_case_pack", col("case_pack") < 1),
            ("invalid_service_level_target", (col("service_level_target") <= 0) | (col("service_level_target") >= 1)),
            ("invalid_policy", ~col("policy").isin(*POLICIES)),
        ]
    if name == "locations":
        rules += [
            ("invalid_location_type", ~F.lower(col("location_type")).isin("store", "dc")),
            ("invalid_review_period", col("review_period") <= 0),
        ]
    if name == "receipts":
        rules.append(("receipt_before_order", col("receipt_date") < col("order_date")))
    # A null in a comparison is null, not true: coalesce so that absent optional values pass.
    return [(reason, F.coalesce(condition, F.lit(False))) for reason, condition in rules]


def annotate(typed: DataFrame, name: str, run_date: dt.date, weekly_weekday: int | None) -> DataFrame:
    """Passes 1 and 2: row rules, then duplicates among the rows that passed them.

    One shuffle per table: the rows are hash-partitioned by `PARTITION_KEYS` (a subset of every
    duplicate window's partition columns, so no window shuffles again), and the panel's per-series
    aggregations of `sales` reuse that partitioning. Both windows rank the rows that passed by
    their JSON: a row that is not the first of its copies is `duplicate_row`; else one that is not
    the first of its key is `duplicate_key` (the first of a key is the first of its copies, so
    this is the same as ranking the keys among the rows left after removing copies).
    """
    frame = typed.repartition(*PARTITION_KEYS.get(name, INPUT_KEYS[name]))
    frame = frame.withColumn(REASON, _first_reason(row_rules(name, run_date, weekly_weekday)))
    passed = F.col(REASON).isNull()
    values = [c.name for c in INPUT_COLUMNS[name]]
    later_copy = passed & (F.row_number().over(Window.partitionBy(passed, *values).orderBy(RECORD)) > 1)
    reason = F.when(later_copy, F.lit("duplicate_row"))
    if name != "sales":
        same_key = Window.partitionBy(passed, *INPUT_KEYS[name]).orderBy(RECORD)
        reason = reason.when(passed & (F.row_number().over(same_key) > 1), F.lit("duplicate_key"))
    return frame.withColumn(REASON, reason.otherwise(F.col(REASON)))


def reference_rule(frame: DataFrame, column: str, known: DataFrame, reason: str) -> DataFrame:
    """Pass 3: rows whose `column` is not null and not among `known` (one column `key`) get `reason`."""
    flag = f"_known_{column}"
    keys = known.select(F.col("key").alias(column), F.lit(True).alias(flag)).distinct()
    joined = frame.join(keys, on=column, how="left")  # AQE broadcasts small key sets
    unknown = F.col(REASON).isNull() & F.col(column).isNotNull() & F.col(flag).isNull()
    return joined.withColumn(REASON, F.when(unknown, F.lit(reason)).otherwise(F.col(REASON))).drop(flag)


def weekly_weekday(typed_sales: DataFrame) -> int:
    """The weekday (Spark's dayofweek, 1 = Sunday) most weekly sales rows fall on: the data's grid."""
    rows = (
        typed_sales.where(F.col("date").isNotNull())
        .groupBy(F.dayofweek("date").alias("weekday"))
        .count()
        .orderBy(F.desc("count"), "weekday")
        .limit(1)
        .collect()
    )
    if not rows:
        raise InputDataError("inputs.sales: no row has a valid date; check the `date` column's format (yyyy-MM-dd)")
    return int(rows[0]["weekday"])


def validate_inputs(
    spark: SparkSession,
    raw_inputs: dict[str, DataFrame],
    run_date: dt.date,
    frequency: str,
) -> Validation:
    """Validate every given input; what it caches stays cached until `Validation.release()`."""
    typed = {name: typed_frame(frame, name) for name, frame in raw_inputs.items()}
    weekday = weekly_weekday(typed["sales"]) if frequency == "W" else None
    annotated = {name: annotate(frame, name, run_date, weekday) for name, frame in typed.items()}
    # Each table is persisted once (the counts, the quarantine and the panel all read it), with its
    # JSON record kept only on quarantined rows. Sales and items are final after passes 1-2;
    # locations are persisted before their reference rule, which needs every record (a small
    # table); the dependent tables after their reference rules against the known-key sets.
    cached: list[DataFrame] = []

    def persist(frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(frame)
        return frame

    for name in ("sales", "items"):
        if name in annotated:
            annotated[name] = persist(_records_of_quarantined(annotated[name]))
    if "locations" in annotated:
        annotated["locations"] = persist(annotated["locations"])

    def good(name: str, column: str) -> DataFrame:
        frame = annotated[name]
        return frame.where(F.col(REASON).isNull()).select(F.col(column).alias("key"))

    known_skus = good("sales", "sku_id")
    known_locations = good("sales", "location_id")
    if "items" in annotated:
        known_skus = known_skus.unionByName(good("items", "sku_id"))
    location_ids = persist(good("locations", "location_id").distinct()) if "locations" in annotated else None
    if location_ids is not None:
        known_locations = known_locations.unionByName(location_ids)
    known_skus = persist(known_skus.distinct())
    known_locations = persist(known_locations.distinct())
    if location_ids is not None:
        annotated["locations"] = reference_rule(annotated["locations"], "source_id", location_ids, "unknown_source_location")
    for name in ("inventory", "receipts", "promotions"):
        if name in annotated:
            annotated[name] = reference_rule(annotated[name], "sku_id", known_skus, "unknown_sku")
            annotated[name] = reference_rule(annotated[name], "location_id", known_locations, "unknown_location")
    if "dc_supply" in annotated:
        annotated["dc_supply"] = reference_rule(annotated["dc_supply"], "sku_id", known_skus, "unknown_sku")
        dc_ids = location_ids if location_ids is not None else known_locations
        annotated["dc_supply"] = reference_rule(annotated["dc_supply"], "dc_id", dc_ids, "unknown_dc")
    for name in ("inventory", "receipts", "promotions", "dc_supply"):
        if name in annotated:
            annotated[name] = persist(_records_of_quarantined(annotated[name]))

    tables: dict[str, ValidatedTable] = {}
    for name, frame in annotated.items():
        contract = [c.name for c in INPUT_COLUMNS[name]]
        tables[name] = ValidatedTable(
            name=name,
            annotated=frame,
            clean=frame.where(F.col(REASON).isNull()).select(*contract),
            quarantine=frame.where(F.col(REASON).isNotNull()).select(
                F.lit(name).alias("source"), F.col(REASON).alias("reason"), F.col(RECORD).alias("record")
            ),
        )
    return Validation(tables=tables, counts=count_reasons(tables), cached=cached)


def _records_of_quarantined(frame: DataFrame) -> DataFrame:
    """The frame with its JSON record nulled on used rows: no one reads those again, and at scale
    they would be most of what the cache holds (100-odd bytes per row of 116M sales at 1M series)."""
    return frame.withColumn(RECORD, F.when(F.col(REASON).isNotNull(), F.col(RECORD)))


def count_reasons(tables: dict[str, ValidatedTable]) -> ValidationCounts:
    """Rows in and quarantined per table and per reason, in one small aggregation over all tables."""
    reason_rows = reduce(
        DataFrame.unionByName,
        [t.annotated.select(F.lit(name).alias("source"), F.col(REASON).alias("reason")) for name, t in tables.items()],
    )
    counts = reason_rows.groupBy("source", "reason").count().collect()
    rows_in = {name: 0 for name in tables}
    rows_quarantined = {name: 0 for name in tables}
    reasons: dict[tuple[str, str], int] = {}
    for row in counts:
        rows_in[row["source"]] += int(row["count"])
        if row["reason"] is not None:
            rows_quarantined[row["source"]] += int(row["count"])
            reasons[(row["source"], row["reason"])] = int(row["count"])
    return ValidationCounts(rows_in=rows_in, rows_quarantined=rows_quarantined, reasons=reasons)


def union_quarantine(tables: dict[str, ValidatedTable]) -> DataFrame:
    """All quarantined rows of every input, in the `quarantine` table's columns (without run keys)."""
    return reduce(DataFrame.unionByName, [t.quarantine for t in tables.values()])
