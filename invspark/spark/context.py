"""What every stage gets (`RunContext`) and reports (`StageResult`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from invspark.config import RunConfig
from invspark.spark.delta_io import DeltaTables

log = logging.getLogger("invspark")


@dataclasses.dataclass
class StageResult:
    """What a stage reports: rows read, written and quarantined, and a short summary line."""

    rows_in: int
    rows_out: int
    rows_quarantined: int = 0
    summary: str = ""


@dataclasses.dataclass
class RunContext:
    """What every stage gets: the session, the config, the warehouse and the run's identity."""

    spark: SparkSession
    config: RunConfig
    tables: DeltaTables
    run_id: str

    @property
    def run_date(self) -> dt.date:
        return self.config.run_date

    def with_run_keys(self, frame: DataFrame) -> DataFrame:
        """Prepend `run_id` and `run_date`, the keys every output row carries."""
        return frame.select(
            F.lit(self.run_id).alias("run_id"), F.lit(self.run_date).cast("date").alias("run_date"), *frame.columns
        )

    def write(self, frame: DataFrame, name: str):
        started = time.perf_counter()
        result = self.tables.write_table(self.with_run_keys(frame), name, self.run_date, mode="replace_run")
        log.debug("wrote %s: %s rows in %.1f s (version %s)", name, f"{result.num_rows:,}", time.perf_counter() - started, result.version)
        return result

    def read(self, name: str) -> DataFrame:
        return self.tables.read_table(name, self.run_date)
