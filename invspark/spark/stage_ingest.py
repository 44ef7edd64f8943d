"""Stage `ingest`: read and validate the inputs, quarantine bad rows, build the series panel.

Writes `quarantine` (every rejected input row with its reason) and the stage tables later stages
read: `stage_series_panel` (one row per series, whole history as arrays), `stage_grid` (the run's
period grid), and the clean master data `stage_items`, `stage_locations`, `stage_inventory`,
`stage_dc_supply`, `stage_lead_times`. Input rows = used rows + quarantined rows, per table.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from invspark.errors import InputDataError
from invspark.spark.context import RunContext, StageResult
from invspark.spark.inputs import empty_input, read_input
from invspark.spark.lead_times import estimate_lead_times
from invspark.spark.panel import build_panel
from invspark.spark.session import size_shuffle_partitions
from invspark.spark.validate import union_quarantine, validate_inputs
from invspark.stages.calendar import PeriodGrid

log = logging.getLogger("invspark")

MASTER_TABLES = ("items", "locations", "inventory", "dc_supply")
GRID_DDL = "origin date, frequency string, n_periods int, horizon int, n_series long, n_buckets int"


def run(context: RunContext) -> StageResult:
    spark, config = context.spark, context.config
    if "spark.sql.shuffle.partitions" not in config.spark.conf:
        size_shuffle_partitions(spark, config.inputs["sales"].path)
    raw = {name: read_input(spark, spec) for name, spec in config.inputs.items()}
    validation = validate_inputs(spark, raw, config.run_date, config.frequency)
    tables, counts = validation.tables, validation.counts
    try:
        context.write(union_quarantine(tables), "quarantine")
        for (source, reason), n in sorted(counts.reasons.items()):
            log.warning("[ingest] quarantined %s row(s) of %s: %s", f"{n:,}", source, reason)
        sales_in = counts.rows_in["sales"]
        bad_share = counts.rows_quarantined["sales"] / sales_in if sales_in else 1.0
        if bad_share > config.validation.max_quarantine_fraction:
            raise InputDataError(
                f"inputs.sales: {bad_share:.1%} of {sales_in:,} rows were quarantined, above "
                f"validation.max_quarantine_fraction = {config.validation.max_quarantine_fraction}; "
                "see the quarantine table's reasons, fix the extract or raise the limit"
            )
        clean = {name: table.clean for name, table in tables.items()}
        for name in MASTER_TABLES:  # absent inputs are written empty, so later stages always find this run's rows
            clean.setdefault(name, empty_input(spark, name))
        lead_times = estimate_lead_times(
            clean["receipts"] if "receipts" in clean else empty_input(spark, "receipts"),  # none: all get the default
            frequency=config.frequency,
            min_samples=config.policy.min_lead_time_samples,
            default_lead_time_days=config.policy.default_lead_time_days,
            targets=lead_time_targets(clean),
        )
        context.write(lead_times, "stage_lead_times")
        lead_times = context.read("stage_lead_times").drop("run_id", "run_date")
        panel = build_panel(clean, config, lead_times)
        try:
            n_series = context.write(panel.frame, "stage_series_panel").num_rows
        finally:
            panel.release()
        grid_row = spark.createDataFrame(
            [(panel.grid.origin, panel.grid.frequency, panel.grid.n_periods, config.horizon, n_series, panel.n_buckets)],
            GRID_DDL,
        )
        context.write(grid_row, "stage_grid")
        for name in MASTER_TABLES:
            context.write(clean[name], f"stage_{name}")
    finally:
        validation.release()
    used = counts.total_in - counts.total_quarantined
    per_table = ", ".join(f"{name} {counts.rows_in[name]:,}" for name in tables)
    return StageResult(
        rows_in=counts.total_in,
        rows_out=used,
        rows_quarantined=counts.total_quarantined,
        summary=f"{n_series:,} series x {panel.grid.n_periods} periods in {panel.n_buckets} buckets; rows in: {per_table}",
    )


def lead_time_targets(clean: dict[str, DataFrame]) -> DataFrame:
    """Every series (supplied by its location's DC, if any) and every SKU x DC that needs a lead time."""
    series = clean["sales"].select("sku_id", "location_id").distinct()
    sources = clean["locations"].select("location_id", "source_id")
    dcs = clean["dc_supply"].select("sku_id", F.col("dc_id").alias("location_id")).distinct()
    return (
        series.join(sources, "location_id", "left")
        .select("sku_id", "location_id", "source_id")
        .unionByName(dcs.withColumn("source_id", F.lit(None).cast("string")))
        .distinct()
    )


def read_grid(context: RunContext):
    """The run's period grid written by ingest (one small row)."""
    row = context.read("stage_grid").select("origin", "frequency", "n_periods", "n_series", "n_buckets").first()
    if row is None:
        raise InputDataError(
            f"no ingest output for run_date {context.run_date} in {context.config.warehouse}; run the ingest stage first"
        )
    return PeriodGrid(origin=row["origin"], frequency=row["frequency"], n_periods=int(row["n_periods"])), row

