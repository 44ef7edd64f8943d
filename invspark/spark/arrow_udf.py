"""Glue for `GroupedData.applyInArrow`: bind a bucket function's settings, keep its type hints.

pyspark 4.2 infers the kind of an Arrow UDF from the function's type hints and fails (with an
unbound `eval_type`) when it cannot, e.g. for a `functools.partial`. `bucket_udf` returns a plain
function annotated `(pyarrow.Table) -> pyarrow.Table` that calls `fn(table, **settings)`.
"""

# No `from __future__ import annotations`: pyspark reads these hints as real objects.
from typing import Any, Callable

import pyarrow as pa


def bucket_udf(fn: Callable[..., pa.Table], **settings: Any) -> Callable[[pa.Table], pa.Table]:
    def apply_to_bucket(table: pa.Table) -> pa.Table:
        return fn(table, **settings)

    apply_to_bucket.__name__ = getattr(fn, "__name__", "apply_to_bucket")
    return apply_to_bucket
