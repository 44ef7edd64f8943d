"""Multiplicative level calibration of point forecasts, fitted on out-of-sample (backtest) errors.

Model: within a group of series ``g`` (a segment), the demand that follows a forecast ``yhat`` is
``E[y | yhat] = c_g * yhat``; a calibrated model forecasts ``c_g * yhat``. ``c_g`` is the value
of a fixed grid that minimises the group's mean RMSSE (M5 scaling, the stage's selection
criterion) over backtest folds, i.e. over forecasts the model made without seeing the periods
they are scored on. This is the zero-intercept form of the Mincer & Zarnowitz (1969) forecast
evaluation regression ``y = a + b yhat`` ("The evaluation of economic forecasts", in *Economic
Forecasts and Expectations*, NBER) used as a correction, as in Theil's (1966) optimal linear
correction of forecasts (*Applied Economic Forecasting*, ch. 2).

Why a level forecast needs it: a per-series level estimated from a short or sparse history is
noisy, and a noisy estimate is best shrunk toward zero by ``mu^2 / (mu^2 + Var(yhat))`` under
squared error (James & Stein 1961; Efron & Morris 1975, "Data analysis using Stein's estimator
and its generalizations", JASA 70(350)); series chosen because they sold in the past regress
toward lower demand, and intermittent spare parts decline toward obsolescence (Teunter, Syntetos
& Babai 2011, "Intermittent demand: linking forecasting to inventory obsolescence", EJOR 214(3)).
All of these make the out-of-sample ``c_g`` fall below 1; where a model already forecasts the
mean, ``c_g`` stays near 1.

The groups of a fold's series are those known at the fold's origin (a segment defined with the
scored periods would leak them into the factor). Groups with fewer than ``min_series`` scored
series take the factor of the next coarser group, and without a large enough group a model is
not calibrated (factor 1): a factor is only applied where enough series vouch for it. All
models are fitted at once: the squared error of ``c * yhat`` is the quadratic
``A - 2 c B + c^2 C`` in sums that are computed once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FACTOR_GRID = np.round(np.arange(0, 31) * 0.05, 2)  # 0.00, 0.05, ..., 1.50


def error_moments(forecast: np.ndarray, actual: np.ndarray, scale2: np.ndarray) -> np.ndarray:
    """Per-series sums over the horizon ``(A, B, C, points)`` of scaled ``y^2``, ``y yhat``, ``yhat^2``.

    ``forecast``: ``(..., n, H)``; ``actual``: broadcastable to it, ``NaN`` = not scored;
    ``scale2``: broadcastable to ``(..., n)``. Returns ``(4, ..., n)``.
    """
    ok = ~np.isnan(actual) & ~np.isnan(forecast)
    y = np.where(ok, actual, 0.0)
    f = np.where(ok, forecast, 0.0)
    weight = 1.0 / np.asarray(scale2)[..., None]
    return np.stack([(y * y * weight).sum(axis=-1), (y * f * weight).sum(axis=-1),
                     (f * f * weight).sum(axis=-1), ok.sum(axis=-1).astype(float)])


def level_factors(
    moments: np.ndarray,
    fit_groups: Sequence[np.ndarray],
    query_groups: Sequence[np.ndarray],
    min_series: int,
    grid: np.ndarray = FACTOR_GRID,
) -> np.ndarray:
    """Calibration factors ``(M, n_query)`` fitted on error moments ``(4, M, n_fit)``.

    The fitted items are series as of one backtest origin each (the same series may appear once
    per fold); the query items are the series to calibrate. For each grid value ``c`` an item's
    RMSSE is ``sqrt((A - 2cB + c^2 C) / points)``; a group's factor is the ``c`` with the lowest
    mean RMSSE over its items with ``points > 0``. ``fit_groups`` / ``query_groups``: integer
    codes per grouping level, coarsest first, in one code space per level (the same code is the
    same group in both). A query item takes its finest group with at least ``min_series`` scored
    items, and 1 without any (the loop runs over groups, a small fixed set per bucket, never over
    series).
    """
    A, B, C, points = moments  # each (M, n_fit)
    scored = points > 0
    values = np.asarray(grid, dtype=float)
    c = values[:, None, None]  # (G, 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmsse = np.sqrt(np.maximum(A - 2 * c * B + c * c * C, 0.0) / np.where(scored, points, 1.0))  # (G, M, n_fit)
    rmsse = np.where(scored[None], rmsse, 0.0)
    factors = np.ones((points.shape[0], len(query_groups[0])))  # (M, n_query)
    for fit_codes, query_codes in zip(fit_groups, query_groups):
        for code in np.unique(query_codes):
            members = fit_codes == code
            enough = (scored & members[None]).sum(axis=1) >= min_series  # (M,)
            totals = np.where(members[None, None], rmsse, 0.0).sum(axis=2)  # (G, M)
            factors[np.ix_(enough, query_codes == code)] = values[totals.argmin(axis=0)][enough, None]
    return factors
