"""Reading the input tables (Parquet, CSV or Delta) as they are, before validation.

CSV is read with every column as a string so that validation, not the reader, decides what is
unparseable (and quarantines it with a reason instead of nulling it silently).
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from invspark.config import InputSpec
from invspark.errors import InputDataError
from invspark.spark.delta_io import read_delta
from invspark.spark.input_schemas import INPUT_COLUMNS

log = logging.getLogger(__name__)


def read_input(spark: SparkSession, spec: InputSpec) -> DataFrame:
    """Read one input table with lower-cased column names; raise if a required column is missing."""
    try:
        if spec.format == "csv":
            reader = spark.read.option("header", "true").option("inferSchema", "false")
            for key, value in spec.options.items():
                reader = reader.option(key, value)
            frame = reader.csv(spec.path)
        elif spec.format == "parquet":
            frame = spark.read.options(**spec.options).parquet(spec.path)
        else:
            frame = read_delta(spark, spec.path)
    except InputDataError:
        raise
    except Exception as exc:  # Spark's AnalysisException et al.: say which input and why
        raise InputDataError(
            f"inputs.{spec.name}: cannot read {spec.path!r} as {spec.format}: {str(exc).splitlines()[0]}"
        ) from exc
    frame = frame.toDF(*[c.strip().lower() for c in frame.columns])
    required = [c.name for c in INPUT_COLUMNS[spec.name] if c.required]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"inputs.{spec.name} ({spec.path}): required column(s) {missing} missing; "
            f"found {frame.columns}. Rename the columns of your extract to those of CONTRACTS.md."
        )
    return frame


def empty_input(spark: SparkSession, name: str) -> DataFrame:
    """An empty typed frame for an optional input that the run does not have."""
    columns = INPUT_COLUMNS[name]
    return spark.range(0).select(*[F.lit(None).cast(c.sql_type).alias(c.name) for c in columns])
