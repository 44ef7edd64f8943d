"""Densify sparse sales history into the series panel: one row per series, whole history as arrays.

Input batch (one row per sku x location, built by native Spark aggregations):
    `history`  list<struct<t: int, units: double, on_hand: double, price: double, promo: int>>
               the series' sales rows (t = period index on the run's grid, 0 <= t < n_periods)
    `active_t` list<int>: the periods in which the series' location recorded any sales at all
    `promos`   list<struct<t: int, promo: int, price: double>>: the `promotions` rows, 0 <= t < n_periods + horizon
    `category_mean` list<struct<t: int, mean_units: double>>: mean units per series of the same
               category at the same location (may be null)
    and scalar columns that pass through unchanged.

The missing-period rule of CONTRACTS.md: a period before the series' first row, or in which its
location recorded no sales for any SKU, is missing (NaN); any other period without a row is zero
units. A row with `on_hand` = 0 is censored (a stockout: the units sold are a lower bound).

Every step is a scatter into `(n_series, n_periods)` matrices with numpy fancy indexing over the
flattened lists: no Python loop over series.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LIST_COLUMNS_IN = ("history", "active_t", "promos", "category_mean")
HISTORY_ARRAYS = ("units", "censored", "price", "promo", "category_mean_units")
FUTURE_ARRAYS = ("future_promo", "future_price")


def _flat(batch: pa.RecordBatch, column: str) -> tuple[np.ndarray, pa.Array]:
    """Row index of every element of a list column, and the flattened elements."""
    lists = batch.column(column)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return rows, pc.list_flatten(lists)


def _field(values: pa.Array, name: str, dtype: type = np.float64) -> np.ndarray:
    """One struct field as numpy, nulls as NaN (or -1 for integer fields)."""
    field = pc.struct_field(values, name)
    if dtype is np.float64:
        return field.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    return field.fill_null(-1).to_numpy(zero_copy_only=False).astype(dtype)


def _scatter(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    out = np.full(shape, fill, dtype=np.float64)
    keep = (cols >= 0) & (cols < shape[1]) & ~np.isnan(values)
    out[rows[keep], cols[keep]] = values[keep]
    return out


def _as_list_array(matrix: np.ndarray, value_type: pa.DataType) -> pa.Array:
    """`(n, k)` matrix -> Arrow list array of n lists of length k (NaN kept as a float, not null)."""
    n, k = matrix.shape
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    values = pa.array(matrix.reshape(-1), type=value_type)  # (n * k,) row-major: row i is values[i*k:(i+1)*k]
    return pa.ListArray.from_arrays(offsets, values)


def densify_batch(batch: pa.RecordBatch, n_periods: int, horizon: int) -> pa.RecordBatch:
    """Dense history arrays for every series of the batch; see the module docstring."""
    n = batch.num_rows
    shape = (n, n_periods)

    rows, history = _flat(batch, "history")
    t = _field(history, "t", np.int64)
    units = _scatter(shape, rows, t, _field(history, "units"), fill=0.0)  # (n, T): no row = zero units
    first = np.full(n, n_periods, dtype=np.int64)
    np.minimum.at(first, rows, t)  # first period with a row, per series
    alive = np.arange(n_periods)[None, :] >= first[:, None]  # (n, T)

    active_rows, active_t = _flat(batch, "active_t")
    active_t = active_t.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    location_active = _scatter(shape, active_rows, active_t, np.ones(len(active_t)), fill=0.0) > 0
    observed = alive & location_active
    units = np.where(observed, units, np.nan)

    on_hand = _scatter(shape, rows, t, _field(history, "on_hand"), fill=np.nan)
    censored = observed & (on_hand == 0)

    promo_rows, promos = _flat(batch, "promos")
    promo_t = _field(promos, "t", np.int64)
    wide = (n, n_periods + horizon)
    planned_promo = _scatter(wide, promo_rows, promo_t, _field(promos, "promo"), fill=np.nan)
    planned_price = _scatter(wide, promo_rows, promo_t, _field(promos, "price"), fill=np.nan)
    sold_price = _scatter(shape, rows, t, _field(history, "price"), fill=np.nan)
    sold_promo = _scatter(shape, rows, t, _field(history, "promo"), fill=np.nan)
    price = np.where(np.isnan(sold_price), planned_price[:, :n_periods], sold_price)
    promo = np.where(np.isnan(sold_promo), planned_promo[:, :n_periods], sold_promo)

    cat_rows, cat = _flat(batch, "category_mean")
    category_mean = _scatter(shape, cat_rows, _field(cat, "t", np.int64), _field(cat, "mean_units"), fill=0.0)
    has_category = np.zeros(n, dtype=bool)
    has_category[cat_rows] = True
    category_mean = np.where(location_active & has_category[:, None], category_mean, np.nan)

    arrays = {
        "units": _as_list_array(units, pa.float64()),
        "censored": _as_list_array(censored, pa.bool_()),
        "price": _as_list_array(price, pa.float64()),
        "promo": _as_list_array(promo, pa.float64()),
        "category_mean_units": _as_list_array(category_mean, pa.float64()),
        "future_promo": _as_list_array(planned_promo[:, n_periods:], pa.float64()),
        "future_price": _as_list_array(planned_price[:, n_periods:], pa.float64()),
    }
    passthrough = [name for name in batch.schema.names if name not in LIST_COLUMNS_IN]
    columns = [batch.column(name) for name in passthrough] + list(arrays.values())
    return pa.RecordBatch.from_arrays(columns, names=passthrough + list(arrays))
