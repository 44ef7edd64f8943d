"""Intermittent-demand forecasts: Croston, Syntetos-Boylan approximation, Teunter-Syntetos-Babai.

Definitions as statsforecast's ``CrostonClassic``, ``CrostonSBA`` and ``TSB`` (Nixtla), which
follow the papers below; fitted values reproduce statsforecast's ``_expand_fitted_*`` logic
(before the first demand the fitted value is 0).

Inputs are ``y`` ``(n_series, n_periods)`` float64 (NaN = missing, right-aligned at the origin)
and ``censored`` (same shape, bool); every recursion loops over time only.

Missing periods are removed from the series (the state carries over, and they do not count
toward the interval between demands). Censoring, per component, so that a stockout can only
raise the forecast:

- a censored zero (stockout, nothing sold) is treated as missing: lost sales are not evidence
  of no demand, so it neither lengthens Croston's interval nor lowers TSB's probability
  (except as a series' very first observation, which starts the series);
- a censored positive sale is a demand occurrence (it updates the interval or probability as
  usual) but updates the demand-size level ``z`` only when it exceeds ``z`` (0 before the
  first demand).
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.forecast_models.base import (
    ModelForecast,
    check_smoothing_parameter,
    repeat_horizon,
    validate_panel,
)

CROSTON_ALPHA = 0.1


def _croston_state(
    values: np.ndarray, censored: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Croston's recursion: per-period rate ``(n_series,)``, fitted ``(n_series, n_periods)``."""
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    filled = np.nan_to_num(values, nan=0.0)
    size = np.full(n_series, np.nan)  # z: smoothed demand size, NaN before the first demand
    interval = np.full(n_series, np.nan)  # p: smoothed interval between demands
    since_demand = np.zeros(n_series)  # used periods since the last demand
    started = np.zeros(n_series, dtype=bool)
    fitted = np.full((n_series, n_periods), np.nan)
    complement = 1.0 - alpha
    for t in range(n_periods):
        has_demand_history = ~np.isnan(size)
        rate = np.where(has_demand_history, size / np.where(has_demand_history, interval, 1.0), 0.0)
        fitted[:, t] = np.where(started, rate, np.nan)
        observation = filled[:, t]
        size_forecast = np.where(has_demand_history, size, 0.0)
        occurred = observation > 0
        use = observed[:, t] & (~censored[:, t] | ~started | occurred)
        since_demand += use
        demand = use & occurred
        update_size = demand & (~censored[:, t] | (observation > size_forecast))
        # a smoother starts at its first value and smooths it in, as statsforecast's ses_forecast
        size = np.where(
            update_size,
            alpha * observation
            + complement * np.where(has_demand_history, size, observation),
            size,
        )
        interval = np.where(
            demand,
            alpha * since_demand
            + complement * np.where(has_demand_history, interval, since_demand),
            interval,
        )
        since_demand = np.where(demand, 0.0, since_demand)
        started |= use
    has_demand_history = ~np.isnan(size)
    rate = np.where(has_demand_history, size / np.where(has_demand_history, interval, 1.0), 0.0)
    return np.where(started, rate, np.nan), fitted


def croston(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha: float = CROSTON_ALPHA,
) -> ModelForecast:
    """Croston's method: SES of demand sizes over SES of inter-demand intervals.

    Croston (1972), "Forecasting and stock control for intermittent demands", ORQ 23(3):
    at each period with demand ``y_t > 0``, ``z = alpha y_t + (1 - alpha) z`` and
    ``p = alpha q + (1 - alpha) p`` with ``q`` the periods since the previous demand (the
    first interval counts from the series' start); ``yhat_{T+h} = z / p``. Both smoothers start
    at their first value and use ``alpha = 0.1``, as statsforecast's ``CrostonClassic``; a
    series without any demand forecasts 0.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    check_smoothing_parameter("alpha", alpha)
    rate, fitted = _croston_state(values, stockouts, float(alpha))
    return ModelForecast(mean=repeat_horizon(rate, horizon), fitted=fitted, name="croston")


def sba(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha: float = CROSTON_ALPHA,
) -> ModelForecast:
    """Syntetos-Boylan approximation: Croston's forecast times ``1 - alpha / 2``.

    Syntetos & Boylan (2005), "The accuracy of intermittent demand estimates", IJF 21(2):
    Croston's ``z / p`` is biased upward; ``(1 - alpha/2) z / p`` removes most of the bias.
    With ``alpha = 0.1`` this is statsforecast's ``CrostonSBA`` (factor 0.95).
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    check_smoothing_parameter("alpha", alpha)
    rate, fitted = _croston_state(values, stockouts, float(alpha))
    factor = 1.0 - float(alpha) / 2.0
    return ModelForecast(
        mean=repeat_horizon(rate * factor, horizon), fitted=fitted * factor, name="sba"
    )


def tsb(
    y: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    season_length: int,
    alpha_d: float = 0.1,
    alpha_p: float = 0.1,
) -> ModelForecast:
    """Teunter-Syntetos-Babai: SES of demand probability (every period) times SES of demand size.

    Teunter, Syntetos & Babai (2011), "Intermittent demand: linking forecasting to inventory
    obsolescence", EJOR 214(3): every period ``d_t = 1[y_t > 0]``,
    ``p = alpha_p d_t + (1 - alpha_p) p``; at demands ``z = alpha_d y_t + (1 - alpha_d) z``;
    ``yhat_{T+h} = p z``. ``p`` starts at the first period's ``d``, ``z`` at the first demand
    (statsforecast ``TSB(alpha_d, alpha_p)``, which has no defaults; ours are 0.1 and 0.1).
    Unlike Croston the probability decays through runs of zeros, so obsolete items fade out.
    Censoring: a censored zero does not update ``p`` (lost sales are not absent demand); a
    censored positive updates ``p`` (demand occurred) and updates ``z`` only when it exceeds ``z``.
    Returns mean ``(n_series, horizon)``, fitted ``(n_series, n_periods)``.
    """
    values, stockouts = validate_panel(y, censored, horizon, season_length)
    check_smoothing_parameter("alpha_d", alpha_d)
    check_smoothing_parameter("alpha_p", alpha_p)
    alpha_d, alpha_p = float(alpha_d), float(alpha_p)
    n_series, n_periods = values.shape
    observed = ~np.isnan(values)
    filled = np.nan_to_num(values, nan=0.0)
    size = np.full(n_series, np.nan)  # z, NaN before the first demand
    probability = np.full(n_series, np.nan)  # p, NaN before the first used period
    fitted = np.full((n_series, n_periods), np.nan)
    for t in range(n_periods):
        started = ~np.isnan(probability)
        has_demand_history = ~np.isnan(size)
        size_forecast = np.where(has_demand_history, size, 0.0)
        fitted[:, t] = np.where(started, probability * size_forecast, np.nan)
        observation = filled[:, t]
        occurred = observation > 0
        use = observed[:, t] & (~censored[:, t] | ~started | occurred)
        # each smoother starts at its first value and smooths it in (statsforecast's ses_forecast)
        occurrence = occurred.astype(np.float64)
        probability = np.where(
            use,
            alpha_p * occurrence
            + (1.0 - alpha_p) * np.where(started, probability, occurrence),
            probability,
        )
        update_size = use & occurred & (~censored[:, t] | (observation > size_forecast))
        size = np.where(
            update_size,
            alpha_d * observation
            + (1.0 - alpha_d) * np.where(has_demand_history, size, observation),
            size,
        )
    started = ~np.isnan(probability)
    rate = np.where(started, probability * np.where(np.isnan(size), 0.0, size), np.nan)
    return ModelForecast(mean=repeat_horizon(rate, horizon), fitted=fitted, name="tsb")
