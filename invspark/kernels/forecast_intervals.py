"""Predictive quantiles from out-of-sample (backtest) residuals: scaled per series, pooled per segment.

Method (split-conformal with a per-series scale; Lei et al. 2018, "Distribution-free predictive
inference for regression", JASA 113(523), §5.2 "locally weighted" conformal; the same idea as
Nixtla's ``ConformalIntervals``/mlforecast ``conformal_prediction``, but pooled across the series
of a segment instead of per series, so that a series with three backtest folds still gets a
well-estimated tail):

1. the walk-forward backtest gives residuals ``e[f, i, h] = y - yhat`` for fold ``f``, series
   ``i``, horizon step ``h``: shape ``(n_folds, n_series, horizon)``;
2. each residual is divided by the series' scale ``s_i`` (the root of the M5 scale of its history
   before the fold's origin): ``r = e / s_i``;
3. for every segment and horizon step, the empirical quantile of the pooled ``r`` at the
   finite-sample conformal level ``ceil((n + 1) q) / n`` (upper levels) is taken; segments with
   too few points fall back to a coarser group (the demand pattern, then the whole bucket);
4. the forecast quantile is ``max(0, yhat_{i,h} + s_i * Q_{segment,h}(q))``, made monotone over
   the levels.

Nothing here assumes normal errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GroupLevels = Sequence[np.ndarray | tuple[np.ndarray, np.ndarray]]  # see pool_by_group


def conformal_levels(levels, n_points) -> np.ndarray:
    """Finite-sample conformal levels for ``n`` points: ``ceil(q (n+1))/n`` at and above the median, ``floor(q (n+1))/n`` below, clipped to [0, 1].

    ``levels`` and ``n_points`` broadcast against each other (Lei et al. 2018, §2, the
    ``ceil((n+1)(1-alpha))``-th order statistic).
    """
    levels = np.asarray(levels, dtype=float)
    n = np.maximum(np.asarray(n_points), 1)
    upper = np.minimum(1.0, np.ceil(levels * (n + 1)) / n)
    lower = np.maximum(0.0, np.floor(levels * (n + 1)) / n)
    return np.where(levels >= 0.5, upper, lower)


def pool_by_group(
    values: np.ndarray,
    group_levels: GroupLevels,
    reducer: Callable[[np.ndarray], np.ndarray],
    min_points: int,
) -> np.ndarray:
    """Apply ``reducer`` to the residuals pooled per group, with fallback to coarser groups.

    ``values``: ``(n_folds, n_series, horizon)``, ``NaN`` = no residual. ``group_levels``: integer
    group codes from the coarsest to the finest grouping (the whole panel is the implicit
    coarsest level), each either ``(n_series,)`` or a pair ``(codes at each fold (n_folds,
    n_series), codes of the series now (n_series,))``: a fold's residual then joins the pool of
    the group its series was in at that fold's origin, and a series takes the pool of the group
    it is in now. ``reducer`` maps pooled points ``(n_points, horizon)`` to ``(k, horizon)``. A
    group's result replaces the coarser one at the horizon steps where it has at least
    ``min_points`` residuals. Returns ``(n_series, k, horizon)``. The loop runs over groups
    (segments: a small fixed set per bucket), never over series.
    """
    n_folds, n_series, horizon = values.shape
    pooled = values.reshape(n_folds * n_series, horizon)  # (folds*series, H)
    overall = reducer(pooled)  # (k, H)
    result = np.broadcast_to(overall, (n_series, *overall.shape)).copy()  # (n, k, H)
    for level in group_levels:
        fold_codes, codes = level if isinstance(level, tuple) else (np.broadcast_to(level, (n_folds, n_series)), level)
        for code in np.unique(codes):
            members = codes == code
            points = values[fold_codes == code]  # (points of the group at the folds' origins, H)
            enough = (~np.isnan(points)).sum(axis=0) >= min_points  # (H,)
            if not enough.any():
                continue
            reduced = reducer(points)  # (k, H)
            block = result[members]  # (members, k, H)
            block[:, :, enough] = reduced[None, :, enough]
            result[members] = block
    return result


def column_quantiles(points: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Conformal empirical quantiles of each column of ``points`` ``(n_points, H)``, ignoring NaN.

    For a column with ``n`` values the level ``q`` is first moved to :func:`conformal_levels`
    and the quantile is the inverted empirical CDF (``numpy.quantile(method="inverted_cdf")``):
    the ``ceil(q' n)``-th smallest value. Returns ``(n_levels, H)``; 0 for an empty column.
    """
    ordered = np.sort(points, axis=0)  # NaN sort last
    count = (~np.isnan(points)).sum(axis=0)  # (H,)
    result = np.zeros((len(levels), points.shape[1]))
    columns = np.arange(points.shape[1])
    for index, level in enumerate(levels):  # small fixed dimension: quantile levels
        adjusted = conformal_levels(level, count)  # (H,)
        rank = np.clip(np.ceil(adjusted * count).astype(int) - 1, 0, np.maximum(count - 1, 0))  # (H,)
        result[index] = np.where(count > 0, ordered[rank, columns], 0.0)
    return result


def residual_quantiles(
    scaled_residuals: np.ndarray,
    group_levels: Sequence[np.ndarray],
    levels: Sequence[float],
    min_points: int = 50,
) -> np.ndarray:
    """Conformal quantiles of the scaled residuals per series' group and horizon step.

    ``scaled_residuals``: ``(n_folds, n_series, horizon)``. Returns ``(n_series, n_levels, horizon)``.
    """

    def reducer(points: np.ndarray) -> np.ndarray:
        return column_quantiles(points, levels)

    return pool_by_group(scaled_residuals, group_levels, reducer, min_points)


def residual_mean(scaled_residuals: np.ndarray, group_levels: Sequence[np.ndarray], min_points: int = 50) -> np.ndarray:
    """Mean scaled residual (the forecast's out-of-sample bias, actual minus forecast) per group and step.

    ``scaled_residuals``: ``(n_folds, n_series, horizon)``. Returns ``(n_series, horizon)``; 0
    where a step has no residual.
    """

    def reducer(points: np.ndarray) -> np.ndarray:
        count = (~np.isnan(points)).sum(axis=0)
        return (np.nansum(points, axis=0) / np.maximum(count, 1))[None, :]

    return pool_by_group(scaled_residuals, group_levels, reducer, min_points)[:, 0, :]


def cumulative_errors(scaled_residuals: np.ndarray) -> np.ndarray:
    """Cumulative forecast error over the first ``h`` steps of every fold and series, ``(F, n, H)``.

    A missing step (no observation: the store was closed, the item not yet selling) adds nothing
    to the sum: nothing was sold or demanded there. The sum is missing only until the first
    observed step. Dropping every sum after a missing step instead would leave no sum at all for
    data with a regular closed day: in daily data where no store trades on Saturdays, a fold whose
    window opens on a Saturday (every fold, when folds are whole weeks apart) has no cumulative
    error at any step.
    """
    observed = ~np.isnan(scaled_residuals)
    started = np.cumsum(observed, axis=2) > 0
    return np.where(started, np.cumsum(np.where(observed, scaled_residuals, 0.0), axis=2), np.nan)


def cumulative_error_scale(scaled_residuals: np.ndarray, group_levels: GroupLevels, min_points: int = 50) -> np.ndarray:
    """RMS of the cumulative scaled forecast error over the first ``h`` steps, pooled per group.

    ``scaled_residuals``: ``(n_folds, n_series, horizon)``. Returns ``(n_series, horizon)``: the
    standard deviation (in units of the series' scale) of ``sum_{j<=h} (y_j - yhat_j)``; it
    includes the correlation of errors across steps that ``sqrt(h) * sigma`` ignores. See
    :func:`cumulative_errors` for missing steps.
    """
    cumulative = cumulative_errors(scaled_residuals)  # (F, n, H)

    def reducer(points: np.ndarray) -> np.ndarray:
        return _column_rms(points)[None, :]

    return pool_by_group(cumulative, group_levels, reducer, min_points)[:, 0, :]


def _column_rms(points: np.ndarray) -> np.ndarray:
    """Root mean square of each column of ``points`` ``(n_points, H)``, ignoring NaN; 0 where empty."""
    count = (~np.isnan(points)).sum(axis=0)  # (H,)
    return np.sqrt(np.nansum(points**2, axis=0) / np.maximum(count, 1))


def cumulative_error_shape(
    scaled_residuals: np.ndarray, group_levels: GroupLevels, levels: Sequence[float], min_points: int = 50
) -> np.ndarray:
    """Standardized quantiles of the cumulative scaled forecast error, pooled per group.

    For every group and horizon step ``h``: the conformal quantiles (:func:`column_quantiles`) of
    ``sum_{j<=h} r_j`` divided by its RMS (:func:`cumulative_error_scale`'s statistic), i.e. the
    error distribution's shape in units of its own scale, bias included. Returns
    ``(n_series, n_levels, horizon)``; 0 where a step has no residual.
    """
    cumulative = cumulative_errors(scaled_residuals)  # (F, n, H)

    def reducer(points: np.ndarray) -> np.ndarray:
        rms = _column_rms(points)  # (H,)
        return column_quantiles(points, levels) / np.where(rms > 0, rms, 1.0)[None, :]

    return pool_by_group(cumulative, group_levels, reducer, min_points)


def quantile_forecasts(mean: np.ndarray, scale: np.ndarray, scaled_quantiles: np.ndarray) -> np.ndarray:
    """Forecast quantiles ``(n_levels, n, H)``: ``max(0, mean + scale * Q)`` made non-decreasing over levels.

    ``mean``: ``(n, H)``; ``scale``: ``(n,)``; ``scaled_quantiles``: ``(n, n_levels, H)`` as returned
    by :func:`residual_quantiles` (levels in increasing order).
    """
    values = mean[:, None, :] + scale[:, None, None] * scaled_quantiles  # (n, L, H)
    values = np.maximum(values, 0.0)
    values = np.maximum.accumulate(values, axis=1)
    return np.moveaxis(values, 1, 0)  # (L, n, H)
