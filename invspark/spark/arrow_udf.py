"""Glue for `GroupedData.applyInArrow` over buckets: one bucket per task, settings bound, type hints kept.

pyspark 4.2 infers the kind of an Arrow UDF from the function's type hints and fails (with an
unbound `eval_type`) when it cannot, e.g. for a `functools.partial`. `bucket_udf` returns a plain
function annotated `(pyarrow.Table) -> pyarrow.Table` that calls `fn(table, **settings)`.
"""

# No `from __future__ import annotations`: pyspark reads these hints as real objects.
from typing import Any, Callable

import pyarrow as pa
from pyspark.sql import DataFrame


def by_bucket(frame: DataFrame, n_buckets: int):
    """`frame.groupBy("bucket")` with one bucket per task.

    Range partitioning on the bucket number into `n_buckets` partitions (the groupBy needs no
    other shuffle): a task is one bucket, as the bucket sizing rules assume (docs/deploy.md),
    whatever `spark.sql.shuffle.partitions` is, and buckets are not paired up by hash collisions.
    """
    return frame.repartitionByRange(max(n_buckets, 1), "bucket").groupBy("bucket")


def bucket_udf(fn: Callable[..., pa.Table], **settings: Any) -> Callable[[pa.Table], pa.Table]:
    def apply_to_bucket(table: pa.Table) -> pa.Table:
        return fn(table, **settings)

    apply_to_bucket.__name__ = getattr(fn, "__name__", "apply_to_bucket")
    return apply_to_bucket
