"""ADIDA: aggregate-disaggregate intermittent demand approach.

Nikolopoulos, Syntetos, Boylan, Petropoulos & Assimakopoulos (2011), "An aggregate-disaggregate
intermittent demand approach (ADIDA) to forecasting: an empirical proposition and analysis",
JORS 62(3). Definition as statsforecast's ``ADIDA`` (Nixtla): the aggregation level ``k`` is the
mean inter-demand interval rounded to an integer; the history is cut into non-overlapping
buckets of ``k`` periods ending at the origin (an incomplete oldest bucket is dropped); the
bucket sums are forecast by SES with ``alpha`` fitted on ``[0.1, 0.3]`` by golden-section search;
the per-period forecast is the bucket forecast divided by ``k``.

All series are handled at once: each series' observed periods are packed to the right end of
the row, bucket sums come from one cumulative sum gathered at per-series bucket edges, and the
SES runs on the ``(n_series, n_buckets)`` panel of sums (right-aligned, NaN where a series has
fewer buckets).
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.forecast_models.base import (
    ModelForecast,
    SesPanel,
    golden_section_alpha,
    pack_right,
    repeat_horizon,
    validate_panel,
)

ADIDA_ALPHA_BOUNDS = (0.1, 0.3)


def aggregation_level(packed: np.ndarray, n_observed: np.ndarray) -> np.ndarray:
    """Mean inter-demand interval, rounded half to even (Python's ``round``), per series.

    packed: ``(n_series, n_periods)`` with each series' observed values packed right.
    The intervals are those of statsforecast's ``_intervals``: the first counts from the series'
    first observed period, the last ends at the last demand, so their mean is
    ``(position of the last demand + 1) / number of demands``. Returns ``(n_series,)`` int,
    1 for a series without demand.
    """
    n_periods = packed.shape[1]
    demand = packed > 0  # NaN > 0 is False
    n_demands = demand.sum(axis=1)
    last_demand_column = n_periods - 1 - demand[:, ::-1].argmax(axis=1)
    last_demand_position = last_demand_column - (n_periods - n_observed)
    mean_interval = (last_demand_position + 1) / np.maximum(n_demands, 1)
    return np.where(n_demands > 0, np.round(mean_interval), 1).astype(np.int64)


def adida(y: np.ndarray, censored: np.ndarray, horizon: int, season_length: int) -> ModelForecast:
    """ADIDA forecast ``yhat_{T+h} = SES(bucket sums) / k``, see the module docstring.

    Missing periods are removed before bucketing (a bucket is ``k`` observed periods), and ``k``
    comes from all observed periods, censored ones included (a simplification). A bucket
    containing a censored period is a lower bound of its demand: it updates the SES level only
    when its sum exceeds the current bucket forecast, otherwise it is skipped (and left out of
    the SSE that fits ``alpha``). A series without demand forecasts 0.
    Fitted: a period's fitted value is its bucket's one-step SES forecast divided by ``k``, with
    the final ``k`` and ``alpha`` (statsforecast refits at every origin instead); NaN in the
    dropped incomplete bucket, the first bucket and at missing periods.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    order = pack_right(observed)  # (n_series, n_periods)
    packed = np.take_along_axis(values, order, axis=1)  # observed values at the right end
    packed_censored = np.take_along_axis(stockouts & observed, order, axis=1)
    n_observed = observed.sum(axis=1)
    level = aggregation_level(packed, n_observed)  # k, (n_series,)
    n_buckets = n_observed // level  # (n_series,)
    max_buckets = max(int(n_buckets.max(initial=0)), 1)

    # bucket e counted back from the origin covers packed columns [T - (e+1)k, T - e k)
    back = np.arange(max_buckets)[None, :]  # (1, max_buckets)
    bucket_end = n_periods - back * level[:, None]  # (n_series, max_buckets)
    bucket_begin = np.maximum(bucket_end - level[:, None], 0)
    bucket_end = np.maximum(bucket_end, 0)
    cumulative = np.zeros((n_series, n_periods + 1))
    cumulative[:, 1:] = np.cumsum(np.nan_to_num(packed, nan=0.0), axis=1)
    cumulative_censored = np.zeros((n_series, n_periods + 1), dtype=np.int64)
    cumulative_censored[:, 1:] = np.cumsum(packed_censored, axis=1)
    exists = back < n_buckets[:, None]

    def at(matrix, columns):
        return np.take_along_axis(matrix, columns, axis=1)

    sums = np.where(exists, at(cumulative, bucket_end) - at(cumulative, bucket_begin), np.nan)
    sums_censored = exists & (
        at(cumulative_censored, bucket_end) > at(cumulative_censored, bucket_begin)
    )
    # oldest bucket first, the last bucket ends at the origin: (n_series, max_buckets)
    sums, sums_censored = sums[:, ::-1], sums_censored[:, ::-1]

    sums_panel = SesPanel(sums, sums_censored)
    alpha = golden_section_alpha(sums_panel, *ADIDA_ALPHA_BOUNDS)
    sum_forecast, sum_fitted, _ = sums_panel.run(alpha)

    has_demand = (packed > 0).any(axis=1)
    has_history = n_observed > 0
    rate = np.where(has_demand, sum_forecast / level, 0.0)
    mean = repeat_horizon(np.where(has_history, rate, np.nan), horizon)

    # fitted: packed column c lies in bucket (T - 1 - c) // k counted back from the origin
    packed_column = np.arange(n_periods)[None, :]
    bucket_back = (n_periods - 1 - packed_column) // level[:, None]  # (n_series, n_periods)
    in_bucket = bucket_back < n_buckets[:, None]
    bucket_column = np.clip(max_buckets - 1 - bucket_back, 0, max_buckets - 1)
    packed_fitted = np.where(in_bucket, at(sum_fitted, bucket_column) / level[:, None], np.nan)
    first_packed = (n_periods - n_observed)[:, None]
    no_demand_fitted = np.where(packed_column > first_packed, 0.0, np.nan)
    packed_fitted = np.where(has_demand[:, None], packed_fitted, no_demand_fitted)
    fitted = np.full((n_series, n_periods), np.nan)
    np.put_along_axis(fitted, order, packed_fitted, axis=1)  # back to calendar columns
    fitted[~observed] = np.nan
    return ModelForecast(mean=mean, fitted=fitted, name="adida")
