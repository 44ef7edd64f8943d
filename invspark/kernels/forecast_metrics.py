"""Point and probabilistic forecast accuracy, vectorized over series.

Every function takes matrices of shape ``(n_series, n_points)`` (``actual``, ``forecast``) where
``NaN`` in ``actual`` (missing or censored periods) removes the point from scoring, and returns
per-series vectors ``(n_series,)`` unless it says otherwise. Definitions follow Nixtla's
utilsforecast ``losses.py`` where it has one:

- ``rmsse``: root mean squared scaled error (Hyndman & Koehler 2006, "Another look at measures
  of forecast accuracy", IJF 22(4); https://robjhyndman.com/papers/mase.pdf) with the M5 scale
  (Makridakis, Spiliotis & Assimakopoulos 2022, "M5 accuracy competition", IJF 38(4), eq. 1):
  the mean squared one-step naive difference of the training history counted from the series'
  first non-zero demand. utilsforecast's ``rmsse`` is the same with ``seasonality=1``
  except that it scales with the whole training history.
- ``quantile_loss`` (pinball): ``max(q (y - f), (q - 1)(y - f))``, utilsforecast
  ``quantile_loss``.
- ``wape``: ``sum |y - f| / sum y`` per series; ``bias``: ``sum (f - y) / sum y`` (positive =
  over-forecast; utilsforecast's ``bias`` is the unscaled mean of ``f - y``).
- ``coverage_upper``: share of points with ``y <= upper quantile``: one-sided coverage of a
  quantile forecast (a calibrated p90 covers 90% of points). utilsforecast's ``coverage`` is the
  two-sided share inside ``[lo, hi]``; :func:`coverage_interval` gives that one.
"""

from __future__ import annotations

import numpy as np

ERROR_SUM_FIELDS = ("abs_error", "error", "actual", "squared_scaled_error", "pinball", "covered_p90", "n_points")


def m5_scale(history: np.ndarray, censored: np.ndarray | None = None) -> np.ndarray:
    """M5 RMSSE denominator per series, ``(n,)``: mean of ``(y_t - y_{t-1})^2`` after the first sale.

    ``history`` is ``(n, T)``; censored or missing periods break the pairs that touch them.
    Series with fewer than one valid pair, or an all-constant history, get ``NaN`` (the caller
    chooses a fallback: see :func:`safe_scale`).
    """
    demand = np.where(censored, np.nan, history) if censored is not None else np.asarray(history, dtype=float)
    started = np.cumsum(np.nan_to_num(demand, nan=0.0) > 0, axis=1) > 0  # (n, T) after first sale
    demand = np.where(started, demand, np.nan)
    diff2 = np.diff(demand, axis=1) ** 2  # (n, T-1), NaN where either side is missing
    count = (~np.isnan(diff2)).sum(axis=1)
    total = np.nansum(diff2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.where(scale > 0, scale, np.nan)


def safe_scale(scale2: np.ndarray, history: np.ndarray) -> np.ndarray:
    """``scale2`` with ``NaN`` replaced by the squared mean level of the history from its first
    sale on (where :func:`m5_scale` starts too), then by 1.

    The level starts at the first sale: a series that has just started selling (no pair of
    periods after its first sale yet) would otherwise get a scale shrunk by its leading zeros,
    and its next errors, divided by it, would dominate every pooled error statistic.
    """
    started = np.cumsum(np.nan_to_num(history, nan=0.0) > 0, axis=1) > 0  # (n, T) from the first sale
    selling = np.where(started, history, np.nan)
    count = (~np.isnan(selling)).sum(axis=1)
    level = np.nansum(selling, axis=1) / np.maximum(count, 1)  # (n,); 0 without a sale
    fallback = np.where(level > 0, level**2, 1.0)
    return np.where(np.isfinite(scale2) & (scale2 > 0), scale2, fallback)


def quantile_loss(actual: np.ndarray, quantile_forecast: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss per point, same shape as ``actual``: ``max(q (y - f), (q - 1)(y - f))``."""
    delta = actual - quantile_forecast
    return np.maximum(level * delta, (level - 1.0) * delta)


def _valid(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    return ~np.isnan(actual) & ~np.isnan(forecast)


def wape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Weighted absolute percentage error per series: ``sum |y - f| / sum y`` (``NaN`` if sum y = 0)."""
    ok = _valid(actual, forecast)
    abs_error = np.where(ok, np.abs(actual - forecast), 0.0).sum(axis=1)
    total = np.where(ok, actual, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # a near-zero total: inf, not a warning
        return np.where(total > 0, abs_error / total, np.nan)


def bias(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Relative bias per series: ``sum (f - y) / sum y`` (positive = over-forecast)."""
    ok = _valid(actual, forecast)
    error = np.where(ok, forecast - actual, 0.0).sum(axis=1)
    total = np.where(ok, actual, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, error / total, np.nan)


def rmsse(actual: np.ndarray, forecast: np.ndarray, scale2: np.ndarray) -> np.ndarray:
    """Root mean squared scaled error per series: ``sqrt(mean((y - f)^2) / scale2)``, ``scale2`` ``(n,)``."""
    ok = _valid(actual, forecast)
    count = ok.sum(axis=1)
    sq = np.where(ok, (actual - forecast) ** 2, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(sq / np.maximum(count, 1) / scale2), np.nan)


def mean_quantile_loss(actual: np.ndarray, quantile_forecasts: np.ndarray, levels) -> np.ndarray:
    """Pinball loss per series averaged over points and quantile levels; ``quantile_forecasts`` ``(n_levels, n, H)``."""
    ok = ~np.isnan(actual)
    count = ok.sum(axis=1)
    total = np.zeros(actual.shape[0])
    for index, level in enumerate(levels):  # small fixed dimension: quantile levels
        total += np.where(ok, quantile_loss(actual, quantile_forecasts[index], level), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1) / len(levels), np.nan)


def coverage_upper(actual: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Share of points per series with ``actual <= upper`` (one-sided coverage of a quantile)."""
    ok = _valid(actual, upper)
    count = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (ok & (actual <= upper)).sum(axis=1) / np.maximum(count, 1), np.nan)


def coverage_interval(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Share of points per series inside ``[lower, upper]`` (utilsforecast ``coverage``)."""
    ok = _valid(actual, upper) & ~np.isnan(lower)
    count = ok.sum(axis=1)
    inside = ok & (actual >= lower) & (actual <= upper)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, inside.sum(axis=1) / np.maximum(count, 1), np.nan)


def error_sums(actual: np.ndarray, mean: np.ndarray, quantile_forecasts: np.ndarray, levels, scale2: np.ndarray, p90: np.ndarray) -> dict[str, np.ndarray]:
    """Per-series sums that aggregate into every accuracy metric, each ``(..., n)``.

    ``actual``, ``mean``, ``p90``: ``(..., n, H)``; ``quantile_forecasts``: ``(n_levels, ..., n, H)``;
    ``scale2``: broadcastable to ``(..., n)``. Points where ``actual`` is ``NaN`` do not count.
    Returns the fields of :data:`ERROR_SUM_FIELDS`: ``abs_error`` = sum |y - f|, ``error`` = sum
    (f - y), ``actual`` = sum y, ``squared_scaled_error`` = sum (y - f)^2 / scale2, ``pinball`` =
    sum over points of the pinball loss averaged over levels, ``covered_p90`` = count of y <= p90,
    ``n_points``. Then WAPE = sum abs_error / sum actual, RMSSE of a series =
    sqrt(squared_scaled_error / n_points), bias = sum error / sum actual, pinball = sum pinball /
    sum n_points, coverage = sum covered_p90 / sum n_points.
    """
    ok = ~np.isnan(actual) & ~np.isnan(mean)
    diff = np.where(ok, mean - actual, 0.0)
    pinball = np.zeros(ok.shape)
    for index, level in enumerate(levels):  # small fixed dimension: quantile levels
        pinball += np.where(ok, quantile_loss(actual, quantile_forecasts[index], level), 0.0)
    return {
        "abs_error": np.abs(diff).sum(axis=-1),
        "error": diff.sum(axis=-1),
        "actual": np.where(ok, actual, 0.0).sum(axis=-1),
        "squared_scaled_error": (diff**2).sum(axis=-1) / scale2,
        "pinball": pinball.sum(axis=-1) / len(levels),
        "covered_p90": (ok & (actual <= p90)).sum(axis=-1).astype(float),
        "n_points": ok.sum(axis=-1),
    }
