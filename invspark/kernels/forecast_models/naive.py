"""Benchmark forecasts: naive, seasonal naive, historic average, moving average.

Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.), section 5.2
"Some simple forecasting methods"; the same definitions as statsforecast's ``Naive``,
``SeasonalNaive``, ``HistoricAverage`` and ``WindowAverage`` on complete, uncensored series.

All functions take ``y`` ``(n_series, n_periods)`` float64 (NaN = missing, right-aligned at the
origin) and ``censored`` (same shape, bool) and loop over time only. Missing periods leave the
state unchanged. A censored observation is used only if it exceeds the current forecast (or no
forecast exists yet); otherwise it is treated as missing.
"""

from __future__ import annotations

import numpy as np

from invspark.errors import ConfigError
from invspark.kernels.forecast_models.base import (
    ModelForecast,
    first_observed_index,
    repeat_horizon,
    validate_panel,
)


def _naive_state(values: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Last used observation: final state ``(n_series,)`` and fitted ``(n_series, n_periods)``."""
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    last = np.full(n_series, np.nan)
    fitted = np.full((n_series, n_periods), np.nan)
    for t in range(n_periods):
        fitted[:, t] = last
        observation = values[:, t]
        use = observed[:, t] & ~(censored[:, t] & (observation <= last))
        last = np.where(use, observation, last)
    return last, fitted


def naive(y: np.ndarray, censored: np.ndarray, horizon: int, season_length: int) -> ModelForecast:
    """Naive forecast: every future period equals the last used observation, ``yhat_{T+h} = y_T``.

    FPP3 section 5.2. Fitted: ``yhat_t = y_{t-1}`` (the last used observation before ``t``).
    A censored ``y_t`` replaces the state only when it exceeds it.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    last, fitted = _naive_state(values, stockouts)
    return ModelForecast(mean=repeat_horizon(last, horizon), fitted=fitted, name="naive")


def seasonal_naive(
    y: np.ndarray, censored: np.ndarray, horizon: int, season_length: int
) -> ModelForecast:
    """Seasonal naive: ``yhat_{T+h} = y_{T+h-m(k+1)}``, the last used value one season back.

    FPP3 section 5.2, ``m`` = ``season_length``. The state is one slot per position in the
    season ``(n_series, m)``; a censored observation replaces its slot only when it exceeds it.
    A series with less than two seasons of history (from its first observation to the origin)
    falls back to :func:`naive`; so does a position that has never been observed.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    n_series, n_periods = values.shape
    naive_last, naive_fitted = _naive_state(values, stockouts)
    observed = ~np.isnan(values)
    # position of each column in the season, counted back from the origin: column -1 -> m-1
    position = (np.arange(n_periods) - n_periods) % season_length
    slots = np.full((n_series, season_length), np.nan)  # (n_series, m)
    fitted = np.full((n_series, n_periods), np.nan)
    for t in range(n_periods):
        slot = slots[:, position[t]]
        fitted[:, t] = slot
        observation = values[:, t]
        use = observed[:, t] & ~(stockouts[:, t] & (observation <= slot))
        slots[:, position[t]] = np.where(use, observation, slot)
    seasonal_ok = (n_periods - first_observed_index(values)) >= 2 * season_length
    future_position = np.arange(horizon) % season_length  # first future period is position 0
    mean = slots[:, future_position]  # (n_series, horizon)
    mean = np.where(seasonal_ok[:, None] & ~np.isnan(mean), mean, naive_last[:, None])
    fitted = np.where(seasonal_ok[:, None] & ~np.isnan(fitted), fitted, naive_fitted)
    return ModelForecast(mean=mean, fitted=fitted, name="seasonal_naive")


def historic_average(
    y: np.ndarray, censored: np.ndarray, horizon: int, season_length: int
) -> ModelForecast:
    """Historic average: ``yhat_{T+h} = mean(y_1..y_T)`` over the used observations.

    FPP3 section 5.2 ("mean method"); statsforecast ``HistoricAverage`` for the mean. The fitted
    value is the one-step-ahead forecast, the expanding mean of the used observations before
    ``t`` (statsforecast reports the full-sample mean instead). A censored observation enters
    the average only when it exceeds the current average.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    total = np.zeros(n_series)
    count = np.zeros(n_series)
    fitted = np.full((n_series, n_periods), np.nan)
    for t in range(n_periods):
        average = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
        fitted[:, t] = average
        observation = values[:, t]
        use = observed[:, t] & ~(stockouts[:, t] & (observation <= average))
        total += np.where(use, observation, 0.0)
        count += use
    average = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
    return ModelForecast(
        mean=repeat_horizon(average, horizon), fitted=fitted, name="historic_average"
    )


def moving_average(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    window_size: int | None = None,
) -> ModelForecast:
    """Moving average of the last ``k = window_size`` used observations, ``mean(y_{T-k+1..T})``.

    FPP3 section 5.2 / statsforecast ``WindowAverage``. ``window_size`` defaults to
    ``min(season_length, 13)`` (a week of daily data, a year of monthly data, a quarter of weekly
    data). With fewer than ``window_size`` used observations the average of those available is
    used (statsforecast returns NaN there). Missing periods do not count toward the window; a
    censored observation enters the window only when it exceeds the current average.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    window = min(season_length, 13) if window_size is None else window_size
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window_size must be an integer >= 1, got {window_size!r}")
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    rows = np.arange(n_series)
    buffer = np.zeros((n_series, window))  # (n_series, window) ring of used observations
    count = np.zeros(n_series, dtype=np.int64)
    fitted = np.full((n_series, n_periods), np.nan)
    average = np.full(n_series, np.nan)
    for t in range(n_periods):
        fitted[:, t] = average
        observation = values[:, t]
        use = observed[:, t] & ~(stockouts[:, t] & (observation <= average))
        slot = count % window
        buffer[rows, slot] = np.where(use, observation, buffer[rows, slot])
        count += use
        filled = np.minimum(count, window)
        average = np.where(count > 0, buffer.sum(axis=1) / np.maximum(filled, 1), np.nan)
    return ModelForecast(
        mean=repeat_horizon(average, horizon), fitted=fitted, name="moving_average"
    )
