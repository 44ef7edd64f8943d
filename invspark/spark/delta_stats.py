"""Delta file statistics built from a Parquet footer, without re-reading the data.

A Delta `add` action carries `stats`: a JSON string with `numRecords`, `minValues`, `maxValues`
and `nullCount` (Delta protocol, "Per-file Statistics",
https://github.com/delta-io/delta/blob/master/PROTOCOL.md#per-file-statistics). Readers use it
to skip files, so every bound written here must be *valid*: `minValues[c] <= every non-null c`
and `maxValues[c] >= every non-null c` in the file. A column left out of `minValues`/`maxValues`
only means "unknown" and is always safe, so this module leaves a column out whenever the footer
cannot give a valid bound:

- floating-point columns: Parquet writers leave NaN out of min/max, while Spark orders NaN above
  every number (`NaN > 5` is true), so a footer max could make Spark skip a file that matches;
- strings longer than 32 characters: the min is cut to a 32-character prefix (still a lower
  bound, as Delta Spark does with `dataSkippingStringPrefixLength`), the max is left out;
- timestamps: Delta writes milliseconds (`2012-01-04T01:02:03.456Z`), so the min is floored and
  the max ceiled to the millisecond (delta-rs truncates the max, which can under-state it);
- nested columns (struct/list/map leaves), booleans, decimals and binary get no min/max, and
  nested columns no null count either (a leaf's null count mixes null lists and null elements);
- a column whose statistics are missing in any row group (other than an all-null one) gets none.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# Delta Spark's `spark.databricks.delta.properties.defaults.dataSkippingStringPrefixLength`.
STRING_PREFIX_LENGTH = 32


def parquet_file_stats(metadata: pq.FileMetaData) -> dict[str, Any]:
    """Delta per-file statistics of one Parquet file, from its footer.

    `metadata`: the footer (`pyarrow.parquet.read_metadata(path)`), n_row_groups row groups.
    Returns `{"numRecords": int, "minValues": {col: value}, "maxValues": {col: value},
    "nullCount": {col: int}}` with JSON-ready values (dates and timestamps as ISO strings), for
    the top-level primitive columns of the file; see the module docstring for what is left out.
    """
    arrow_schema = metadata.schema.to_arrow_schema()
    min_values: dict[str, Any] = {}
    max_values: dict[str, Any] = {}
    null_count: dict[str, int] = {}
    for column_index in range(metadata.num_columns):
        name = metadata.schema.column(column_index).path
        if "." in name:  # a leaf of a struct, list or map
            continue
        arrow_type = arrow_schema.field(name).type
        chunks = [
            metadata.row_group(i).column(column_index).statistics
            for i in range(metadata.num_row_groups)
        ]
        if metadata.num_row_groups == 0 or any(s is None for s in chunks):
            continue
        if all(s.has_null_count for s in chunks):
            null_count[name] = int(sum(s.null_count for s in chunks))
        if not _min_max_eligible(arrow_type):
            continue
        # A row group whose values are all null has no min/max and needs none.
        all_null = [
            s.has_null_count and s.null_count == metadata.row_group(i).num_rows
            for i, s in enumerate(chunks)
        ]
        bounded = [s for s, empty in zip(chunks, all_null) if not empty]
        if not bounded or not all(s.has_min_max for s in bounded):
            continue
        low = min(s.min for s in bounded)
        high = max(s.max for s in bounded)
        low_json, high_json = _bounds_to_json(arrow_type, low, high)
        if low_json is not None:
            min_values[name] = low_json
        if high_json is not None:
            max_values[name] = high_json
    return {
        "numRecords": int(metadata.num_rows),
        "minValues": min_values,
        "maxValues": max_values,
        "nullCount": null_count,
    }


def parquet_file_stats_json(metadata: pq.FileMetaData) -> str:
    """`parquet_file_stats` as the compact JSON string an `AddAction(stats=...)` expects."""
    return json.dumps(parquet_file_stats(metadata), separators=(",", ":"), sort_keys=True)


def _min_max_eligible(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_date32(arrow_type)
        or pa.types.is_timestamp(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
    )


def _bounds_to_json(arrow_type: pa.DataType, low: Any, high: Any) -> tuple[Any, Any]:
    """(min, max) as Delta JSON values; None where no valid bound can be written."""
    if pa.types.is_integer(arrow_type):
        return int(low), int(high)
    if pa.types.is_date32(arrow_type):
        return low.isoformat(), high.isoformat()
    if pa.types.is_timestamp(arrow_type):
        with_zone = arrow_type.tz is not None
        return (
            _timestamp_millis(low, round_up=False, with_zone=with_zone),
            _timestamp_millis(high, round_up=True, with_zone=with_zone),
        )
    # strings
    low_json = low[:STRING_PREFIX_LENGTH]
    high_json = high if len(high) <= STRING_PREFIX_LENGTH else None
    return low_json, high_json


def _timestamp_millis(value: datetime.datetime, round_up: bool, with_zone: bool) -> str:
    """`2012-01-04T01:02:03.456Z` (UTC timestamp) or without `Z` (timestamp_ntz).

    Floors to the millisecond, or ceils when `round_up` (a max must not fall below the data).
    """
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    extra_micros = value.microsecond % 1000
    value = value - datetime.timedelta(microseconds=extra_micros)
    if round_up and extra_micros:
        value = value + datetime.timedelta(milliseconds=1)
    text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    return text + "Z" if with_zone else text
