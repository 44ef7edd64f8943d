"""The pipeline: ingest -> forecast -> policy -> allocate, each stage a function of the warehouse.

Every stage reads what it needs from the warehouse's Delta tables for the run's `run_date` and
writes its own tables, so that each can also run alone as a `spark-submit` job (`jobs/`). Each
stage records one row in `runs` (status, timings, rows in/out/quarantined), also when it fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.errors import InvsparkError, StageError
from invspark.spark import stage_allocate, stage_forecast, stage_ingest, stage_policy, stage_simulate
from invspark.spark.context import RunContext, StageResult
from invspark.spark.delta_io import DeltaTables

log = logging.getLogger("invspark")

STAGES = ("ingest", "forecast", "policy", "allocate")
# `simulate` (the business-outcome backtest into `policy_simulation`) re-forecasts every series at
# a holdout origin, so it is opt-in: `--stages simulate` after a run, or the demo.
OPTIONAL_STAGES = ("simulate",)

RUNS_DDL = (
    "run_id string, run_date date, stage string, status string, started_at timestamp, finished_at timestamp, "
    "rows_in long, rows_out long, rows_quarantined long, seconds double, message string"
)


STAGE_FUNCTIONS: dict[str, Callable[[RunContext], StageResult]] = {
    "ingest": stage_ingest.run,
    "forecast": stage_forecast.run,
    "policy": stage_policy.run,
    "allocate": stage_allocate.run,
    "simulate": stage_simulate.run,
}


def new_run_id(run_date: dt.date) -> str:
    return f"{run_date.isoformat()}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def run_pipeline(
    spark: SparkSession,
    config: RunConfig,
    stages: tuple[str, ...] = STAGES,
    run_id: str | None = None,
) -> RunContext:
    """Run `stages` in order; stop at the first failure (recorded in `runs`) and raise it."""
    unknown = [s for s in stages if s not in STAGE_FUNCTIONS]
    if unknown:
        raise StageError(f"unknown stage(s) {unknown}; stages are {list(STAGES + OPTIONAL_STAGES)}")
    tables = DeltaTables(spark, config.warehouse)
    context = RunContext(spark=spark, config=config, tables=tables, run_id=run_id or config.run_id or new_run_id(config.run_date))
    log.info("run %s: run_date %s, warehouse %s, Delta backend %s", context.run_id, config.run_date, config.warehouse, tables.backend)
    for stage in stages:
        run_stage(context, stage)
    return context


def run_stage(context: RunContext, stage: str) -> StageResult:
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    log.info("[%s] started", stage)
    try:
        result = STAGE_FUNCTIONS[stage](context)
    except Exception as exc:
        seconds = time.perf_counter() - clock
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _record(context, stage, "failed", started, seconds, StageResult(0, 0), message)
        log.error("[%s] failed after %.1f s: %s", stage, seconds, message)
        if isinstance(exc, InvsparkError):
            raise
        raise StageError(f"stage {stage!r} failed: {message}") from exc
    seconds = time.perf_counter() - clock
    _record(context, stage, "succeeded", started, seconds, result, None)
    log.info(
        "[%s] done in %.1f s: %s rows in, %s out, %s quarantined%s",
        stage, seconds, f"{result.rows_in:,}", f"{result.rows_out:,}", f"{result.rows_quarantined:,}",
        f"; {result.summary}" if result.summary else "",
    )
    return result


def _record(
    context: RunContext, stage: str, status: str, started: dt.datetime, seconds: float, result: StageResult, message: str | None
) -> None:
    """Write this stage's `runs` row, keeping the run's other stage rows (one replace of the run's partition)."""
    spark = context.spark
    finished = dt.datetime.now(dt.timezone.utc)
    row = spark.createDataFrame(
        [
            (
                context.run_id, context.run_date, stage, status, started.replace(tzinfo=None), finished.replace(tzinfo=None),
                int(result.rows_in), int(result.rows_out), int(result.rows_quarantined), float(seconds), message,
            )
        ],
        RUNS_DDL,
    )
    if context.tables.exists("runs"):
        earlier = context.tables.read_table("runs", context.run_date).where(
            (F.col("run_id") == context.run_id) & (F.col("stage") != stage)
        )
        row = earlier.select(*row.columns).unionByName(row)
    context.tables.write_table(row, "runs", context.run_date, mode="replace_run")
