"""Exponential smoothing: SES, damped-trend Holt, damped Holt on a shrunk seasonal profile.

Parameters are fitted per series by minimising the in-sample sum of squared one-step errors,
for all series at once: SES by a vectorized golden-section search (statsforecast's
``SimpleExponentialSmoothingOptimized``), Holt over a small grid of ``(alpha, beta, phi)``
evaluated as ``(n_grid, n_series)`` arrays with one argmin per series.

Inputs are ``y`` ``(n_series, n_periods)`` float64 (NaN = missing, right-aligned at the origin)
and ``censored`` (same shape, bool); the recursions loop over time only. A missing period leaves
the SES level unchanged and moves the damped-trend state along its trend only. A censored
observation updates the state only when it exceeds the one-step forecast for its period (or no
forecast exists yet); otherwise it is treated as missing and left out of the fitting error.
"""

from __future__ import annotations

import numpy as np

from invspark.errors import ConfigError
from invspark.kernels.forecast_models.base import (
    ModelForecast,
    check_smoothing_parameter,
    SesPanel,
    first_observed_index,
    golden_section_alpha,
    repeat_horizon,
    validate_panel,
)

SES_ALPHA_BOUNDS = (0.01, 0.99)
HOLT_ALPHA_GRID = (0.05, 0.1, 0.2, 0.3, 0.5)
HOLT_BETA_GRID = (0.0, 0.02, 0.1)
HOLT_PHI_GRID = (0.8, 0.9, 0.98)
SEASONAL_INDEX_FLOOR = 0.1


def ses(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha: float | None = None,
) -> ModelForecast:
    """Simple exponential smoothing with the smoothing weight fitted per series.

    FPP3 section 8.1: ``l_t = alpha y_t + (1 - alpha) l_{t-1}``, ``l_1 = y_1``,
    ``yhat_{T+h} = l_T``. ``alpha`` minimises the in-sample SSE of one-step errors on
    ``[0.01, 0.99]`` by golden-section search, as statsforecast's
    ``SimpleExponentialSmoothingOptimized``; pass ``alpha`` to fix it for every series
    (statsforecast's ``SimpleExponentialSmoothing``). Censored periods update the level only
    when ``y_t > l_{t-1}``.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    n_series = values.shape[0]
    panel = SesPanel(values, stockouts)
    if alpha is None:
        weights = golden_section_alpha(panel, *SES_ALPHA_BOUNDS)
    else:
        check_smoothing_parameter("alpha", alpha)
        weights = np.full(n_series, float(alpha))
    level, fitted, _ = panel.run(weights)
    return ModelForecast(mean=repeat_horizon(level, horizon), fitted=fitted, name="ses")


def damped_trend_recursion(
    values: np.ndarray,
    censored: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    phi: np.ndarray,
    return_fitted: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Additive damped-trend Holt recursion for every series (and grid point) at once.

    Gardner & McKenzie (1985); FPP3 section 8.2, in error-correction form (Hyndman et al. 2008,
    *Forecasting with Exponential Smoothing*, Table 2.1, model A_d,N):
    ``yhat_t = l_{t-1} + phi b_{t-1}``, ``e_t = y_t - yhat_t``,
    ``l_t = yhat_t + alpha e_t``, ``b_t = phi b_{t-1} + alpha beta e_t``
    (the same as ``b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1}``), with ``l = y_first``,
    ``b = 0`` at the first observation (a level-only start, robust for noisy retail series; the
    trend is learnt from the data). A missing period, or a censored one that is not used,
    applies the transition only (``e_t = 0``: ``l_t = l_{t-1} + phi b_{t-1}``,
    ``b_t = phi b_{t-1}``), the state-space treatment of a missing observation (Durbin &
    Koopman 2012, section 4.10), so the next forecast is the two-step-ahead one.

    values, censored: ``(n_series, n_periods)``. alpha, beta, phi: ``(n_series,)`` or
    ``(n_grid, n_series)``. Returns ``(level, trend, fitted, sse)`` with level, trend and sse of
    the parameters' broadcast shape, fitted ``(n_series, n_periods)`` (unclipped; None unless
    ``return_fitted``, which needs ``(n_series,)`` parameters).
    """
    n_series, n_periods = values.shape
    start = first_observed_index(values)
    rows = np.arange(n_series)
    first = np.where(start < n_periods, values[rows, np.minimum(start, n_periods - 1)], np.nan)
    shape = np.broadcast_shapes(np.shape(alpha), np.shape(beta), np.shape(phi), (n_series,))
    level = np.broadcast_to(first, shape).copy()
    trend = np.zeros(shape)
    sse = np.zeros(shape)
    column = np.arange(n_periods)[None, :]
    observed = ~np.isnan(values)
    # time-major copies, (n_periods, n_series), so that each step reads contiguous memory
    after_start = np.ascontiguousarray((observed & (column > start[:, None])).T)
    censored_after = np.ascontiguousarray((observed & censored & (column > start[:, None])).T)
    any_censored = censored_after.any(axis=1)  # (n_periods,)
    filled = np.ascontiguousarray(np.nan_to_num(values, nan=0.0).T)
    fitted = np.full((n_periods, n_series), np.nan) if return_fitted else None
    trend_gain = alpha * beta
    damped = np.empty(shape)
    error = np.empty(shape)
    step = np.empty(shape)
    for t in range(int(start.min(initial=n_periods)) + 1, n_periods):
        np.multiply(phi, trend, out=damped)
        level += damped  # level is now the one-step forecast yhat_t
        if fitted is not None:
            fitted[t] = level
        np.subtract(filled[t], level, out=error)
        use = after_start[t]
        if any_censored[t]:
            use = use & ~(censored_after[t] & (error <= 0.0))
        error *= use
        np.multiply(alpha, error, out=step)
        level += step
        np.multiply(trend_gain, error, out=trend)
        trend += damped
        error *= error
        sse += error
    if fitted is not None:
        fitted = fitted.T.copy()  # (n_series, n_periods)
        fitted[column <= start[:, None]] = np.nan
    return level, trend, fitted, sse


def _holt_grid(
    alpha: float | None, beta: float | None, phi: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(alpha, beta, phi)`` candidates, each ``(n_grid, 1)``; given values fix an axis."""
    for name, value in (("alpha", alpha), ("beta", beta), ("phi", phi)):
        if value is not None and name != "beta":
            check_smoothing_parameter(name, value)
    if beta is not None and not (
        isinstance(beta, (int, float, np.integer, np.floating))
        and not isinstance(beta, bool)
        and 0.0 <= float(beta) <= 1.0
    ):
        raise ConfigError(f"beta must be a number in [0, 1], got {beta!r}")
    alphas = HOLT_ALPHA_GRID if alpha is None else (float(alpha),)
    betas = HOLT_BETA_GRID if beta is None else (float(beta),)
    phis = HOLT_PHI_GRID if phi is None else (float(phi),)
    candidates = []
    for a in alphas:
        seen_flat = False
        for b in betas:
            for p in phis:
                if b == 0.0 and beta is None:
                    # without trend smoothing the trend stays 0 and phi is irrelevant
                    if seen_flat:
                        continue
                    seen_flat = True
                candidates.append((a, b, p))
    grid = np.array(candidates)  # (n_grid, 3)
    return grid[:, 0:1], grid[:, 1:2], grid[:, 2:3]


def _fit_damped_trend(
    values: np.ndarray,
    censored: np.ndarray,
    alpha: float | None,
    beta: float | None,
    phi: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid-fit damped Holt per series; returns level, trend, phi ``(n_series,)``, fitted."""
    alphas, betas, phis = _holt_grid(alpha, beta, phi)
    _, _, _, sse = damped_trend_recursion(
        values, censored, alphas, betas, phis, return_fitted=False
    )  # sse: (n_grid, n_series)
    best = np.argmin(sse, axis=0)  # (n_series,): first grid point on ties (simplest model)
    best_alpha, best_beta, best_phi = alphas[best, 0], betas[best, 0], phis[best, 0]
    level, trend, fitted, _ = damped_trend_recursion(
        values, censored, best_alpha, best_beta, best_phi
    )
    return level, trend, best_phi, fitted


def _damped_trend_path(level: np.ndarray, trend: np.ndarray, phi: np.ndarray, horizon: int):
    """``l_T + (phi + ... + phi^h) b_T`` for h = 1..horizon: ``(n_series, horizon)``."""
    damping = np.cumsum(phi[:, None] ** np.arange(1, horizon + 1)[None, :], axis=1)
    return level[:, None] + damping * trend[:, None]


def holt_damped(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha: float | None = None,
    beta: float | None = None,
    phi: float | None = None,
) -> ModelForecast:
    """Holt's linear method with a damped trend, parameters fitted per series over a grid.

    FPP3 section 8.2 (Gardner & McKenzie 1985), see :func:`damped_trend_recursion`:
    ``yhat_{T+h} = l_T + (phi + phi^2 + ... + phi^h) b_T``. The grid is
    ``alpha in {0.05, 0.1, 0.2, 0.3, 0.5}`` x ``(beta, phi) in {(0, -)} U {0.02, 0.1} x
    {0.8, 0.9, 0.98}`` (35 models); each series takes the one with the smallest in-sample SSE,
    ties going to the earlier (smaller alpha, no trend). Pass ``alpha``, ``beta`` or ``phi`` to fix
    that parameter. Demand is non-negative, so a trend that extrapolates below zero is truncated
    at 0 (mean and fitted).
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    level, trend, best_phi, fitted = _fit_damped_trend(values, stockouts, alpha, beta, phi)
    mean = np.maximum(_damped_trend_path(level, trend, best_phi, horizon), 0.0)
    return ModelForecast(mean=mean, fitted=np.maximum(fitted, 0.0), name="holt_damped")


def seasonal_profile(values: np.ndarray, censored: np.ndarray, season_length: int) -> np.ndarray:
    """Multiplicative seasonal index per position in the season, shrunk toward 1 per series.

    For a series with ``K >= 2`` whole seasons between its first observation and the origin:

    1. Fit a straight-line trend ``a + b t`` to the uncensored observations of the last ``K``
       seasons: the slope by least squares with one dummy per position (so it comes from the
       changes between seasons at the same position and the seasonal pattern cannot leak into
       it), the intercept so that the line has the observations' mean; floor it at a tenth of
       that mean.
    2. Raw index per position ``j``: ratio of sums ``r_j = sum y / sum trend`` over the
       observations at ``j`` (robust to zeros, unlike a mean of ratios).
    3. Shrink toward 1 by empirical Bayes (James-Stein), as Miller & Williams (2003),
       "Shrinkage estimators of time series seasonal factors and their effect on forecasting
       accuracy", IJF 19(4): noise variance of ``r_j`` is ``phi / sum trend_j`` with ``phi``
       the Pearson dispersion of ``y`` around ``r_j * trend`` (quasi-Poisson), signal variance
       ``tau^2 = max(mean_j (r_j - 1)^2 - mean_j noise_j, 0)``, and
       ``s_j = 1 + tau^2 / (tau^2 + noise_j) * (r_j - 1)``.
    4. Floor at 0.1 (no division by ~0 when deseasonalising) and rescale to mean 1.

    Series with fewer than two seasons get an index of 1 everywhere (no seasonality).
    values, censored: ``(n_series, n_periods)``. Returns ``(n_series, season_length)``; column
    ``j`` is the position of the periods ``T - m + j``, ``T - 2m + j``, ... (the last column is the
    last period before the origin).
    """
    n_series = values.shape[0]
    sums = _SeasonSums(values, censored, season_length, min_seasons=2)
    if sums.empty:
        return np.ones((n_series, season_length))
    return _shrunk_index(sums, np.arange(n_series), n_series)


def group_seasonal_profile(values: np.ndarray, censored: np.ndarray, season_length: int, group: np.ndarray) -> np.ndarray:
    """Multiplicative seasonal index per position, shared by the series of each group.

    Group seasonal indices (Withycombe 1989, "Forecasting with combined seasonal indices", IJF
    5(4); Dekker, van Donselaar & Ouwehand 2004, "How to use aggregation and combined forecasting
    to improve seasonal demand forecasts", IJPE 90): one profile per group of series that share a
    seasonal pattern (a category), estimated from all of them. The steps are
    :func:`seasonal_profile`'s, with the sums of step 2 and the dispersion of step 3 taken over
    the group's series: ``r_j = sum_i sum y / sum_i sum trend`` at position ``j``, so a slow item
    adds little and the group's fast movers set the shape. Pooled, one whole season per series is
    enough (``K >= 1``; with one season the trend is the series' mean): each series' level sets
    its own scale and the group's many series average their trends out. A series whose group
    has no usable season gets 1 everywhere.

    group: ``(n_series,)`` codes 0..G-1. Returns ``(n_series, season_length)``, columns as in
    :func:`seasonal_profile`.
    """
    n_series = values.shape[0]
    group = np.asarray(group, dtype=np.int64)
    sums = _SeasonSums(values, censored, season_length, min_seasons=1)
    if sums.empty:
        return np.ones((n_series, season_length))
    n_groups = int(group.max(initial=-1)) + 1
    return _shrunk_index(sums, group, n_groups)[group]


class _SeasonSums:
    """Each series' uncensored observations and fitted trend over its last ``K >= min_seasons``
    whole seasons, as ``(n_series, max_seasons, season_length)`` blocks (zeros where unused):
    step 1 of :func:`seasonal_profile`."""

    def __init__(self, values: np.ndarray, censored: np.ndarray, season_length: int, min_seasons: int):
        n_series, n_periods = values.shape
        seasons = (n_periods - first_observed_index(values)) // season_length  # (n_series,)
        max_seasons = int(seasons.max(initial=0))
        self.empty = max_seasons < min_seasons
        if self.empty:
            return
        window = max_seasons * season_length
        column = np.arange(n_periods, dtype=np.float64)
        in_window = column[None, :] >= (n_periods - seasons * season_length)[:, None]
        usable = in_window & ~np.isnan(values) & ~censored & (seasons[:, None] >= min_seasons)
        usable_y = np.where(usable, values, 0.0)
        usable_t = np.where(usable, column[None, :], 0.0)
        # the last `window` columns, one row per season: (n_series, max_seasons, season_length)
        self.y = usable_y[:, -window:].reshape(n_series, max_seasons, season_length)
        t_by_season = usable_t[:, -window:].reshape(n_series, max_seasons, season_length)
        self.usable = usable[:, -window:].reshape(n_series, max_seasons, season_length)
        count_position = self.usable.sum(axis=1)  # (n_series, season_length)
        y_position = self.y.sum(axis=1)  # (n_series, season_length)
        t_position = t_by_season.sum(axis=1)  # (n_series, season_length)
        # slope from the changes between seasons at the same position (pooled within-position
        # least squares, i.e. a regression on t with one dummy per position), so the seasonal
        # pattern cannot leak into the trend
        per_position = np.maximum(count_position, 1)
        cross = (self.y * t_by_season).sum(axis=(1, 2)) - (t_position * y_position / per_position).sum(axis=1)
        spread = (t_by_season**2).sum(axis=(1, 2)) - (t_position**2 / per_position).sum(axis=1)
        slope = np.where(spread > 1e-9, cross / np.where(spread > 1e-9, spread, 1.0), 0.0)
        self.count = count_position.sum(axis=1)  # (n_series,)
        sum_y = y_position.sum(axis=1)
        mean_level = sum_y / np.maximum(self.count, 1)
        intercept = mean_level - slope * t_position.sum(axis=1) / np.maximum(self.count, 1)
        trend = np.maximum(intercept[:, None] + slope[:, None] * column[None, :], 0.1 * mean_level[:, None])
        self.trend = np.where(usable, trend, 0.0)[:, -window:].reshape(n_series, max_seasons, season_length)
        self.seasonal = (seasons >= min_seasons) & (self.count > 0) & (sum_y > 0)  # (n_series,)


def _shrunk_index(sums: _SeasonSums, owner: np.ndarray, n_owners: int) -> np.ndarray:
    """Steps 2-4 of :func:`seasonal_profile` for the series pooled by ``owner`` ``(n_series,)``
    (codes 0..n_owners-1; the identity for one profile per series): ``(n_owners, season_length)``,
    1 everywhere for an owner without a usable series."""
    m = sums.y.shape[2]
    keep = sums.seasonal
    owner = np.asarray(owner)[keep]
    y_by_season, trend_by_season, usable = sums.y[keep], sums.trend[keep], sums.usable[keep]
    y_position = _sum_by(y_by_season.sum(axis=1), owner, n_owners)  # (n_owners, m)
    trend_position = _sum_by(trend_by_season.sum(axis=1), owner, n_owners)
    has_trend = trend_position > 0
    raw = np.where(has_trend, y_position / np.where(has_trend, trend_position, 1.0), 1.0)
    expected = raw[owner][:, None, :] * trend_by_season  # (kept series, max_seasons, m)
    pearson = np.where(usable & (expected > 0), (y_by_season - expected) ** 2 / np.where(expected > 0, expected, 1.0),
                       0.0).sum(axis=(1, 2))
    count = np.bincount(owner, weights=sums.count[keep], minlength=n_owners)
    dispersion = np.bincount(owner, weights=pearson, minlength=n_owners) / np.maximum(count - m, 1)  # (n_owners,)
    noise = np.where(has_trend, dispersion[:, None] / np.where(has_trend, trend_position, 1.0), 0.0)  # (n_owners, m)
    signal = np.maximum(((raw - 1.0) ** 2).mean(axis=1) - noise.mean(axis=1), 0.0)
    total = signal[:, None] + noise
    weight = np.where(total > 0, signal[:, None] / np.where(total > 0, total, 1.0), 0.0)
    shrunk = np.maximum(1.0 + weight * (raw - 1.0), SEASONAL_INDEX_FLOOR)
    shrunk /= shrunk.mean(axis=1, keepdims=True)
    pooled = np.bincount(owner, minlength=n_owners) > 0
    return np.where(pooled[:, None], shrunk, 1.0)


def _sum_by(rows: np.ndarray, owner: np.ndarray, n_owners: int) -> np.ndarray:
    """``rows`` ``(k, m)`` summed per owner code ``(k,)`` -> ``(n_owners, m)``."""
    out = np.zeros((n_owners, rows.shape[1]))
    np.add.at(out, owner, rows)
    return out


def ets_seasonal(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha: float | None = None,
    beta: float | None = None,
    phi: float | None = None,
) -> ModelForecast:
    """Damped-trend Holt on seasonally adjusted demand, times a shrunk multiplicative profile.

    The seasonal index ``s`` comes from :func:`seasonal_profile` (detrended ratio of sums,
    empirical-Bayes shrinkage toward 1), estimated once rather than smoothed recursively: with
    2-3 years of weekly data each of the 52 positions has 2-3 observations, too few for a
    seasonal ETS state to settle (FPP3 section 8.3 needs a full season per seasonal state), and
    the shrinkage keeps noisy positions near 1. Then ``z_t = y_t / s_{j(t)}`` is forecast with
    :func:`holt_damped` (grid-fitted per series) and ``yhat_{T+h} = zhat_{T+h} * s_{j(T+h)}``; the
    same for the fitted values. A series with less than two seasons of history has ``s = 1``,
    i.e. it is exactly :func:`holt_damped`. A censored period is used when ``y_t`` exceeds its
    seasonal one-step forecast.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    n_periods = values.shape[1]
    profile = seasonal_profile(values, stockouts, season_length)  # (n_series, m)
    position = (np.arange(n_periods) - n_periods) % season_length  # column -1 -> m - 1
    index_history = profile[:, position]  # (n_series, n_periods)
    index_future = profile[:, np.arange(horizon) % season_length]  # (n_series, horizon)
    adjusted = values / index_history
    level, trend, best_phi, fitted = _fit_damped_trend(adjusted, stockouts, alpha, beta, phi)
    mean = np.maximum(_damped_trend_path(level, trend, best_phi, horizon), 0.0) * index_future
    return ModelForecast(
        mean=mean, fitted=np.maximum(fitted, 0.0) * index_history, name="ets_seasonal"
    )
