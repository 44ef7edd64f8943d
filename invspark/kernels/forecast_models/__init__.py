"""The statistical forecasting model zoo, vectorized across series.

Every model has the signature::

    forecast(y, censored, horizon, season_length, **params) -> ModelForecast

with ``y`` ``(n_series, n_periods)`` float64 (NaN = missing, right-aligned at the forecast
origin), ``censored`` the same shape, bool (True = stockout, ``y`` is a lower bound), and returns
``ModelForecast(mean=(n_series, horizon), fitted=(n_series, n_periods), name)``. See
:mod:`invspark.kernels.forecast_models.base` for the shared missing-data and censoring rules.

``MODELS`` maps each registry name to its function.
"""

from __future__ import annotations

from typing import Callable

from invspark.kernels.forecast_models.base import ModelForecast
from invspark.kernels.forecast_models.exponential_smoothing import (
    ets_seasonal,
    group_seasonal_profile,
    holt_damped,
    seasonal_profile,
    ses,
)
from invspark.kernels.forecast_models.intermittent import croston, sba, tsb
from invspark.kernels.forecast_models.naive import (
    historic_average,
    moving_average,
    naive,
    seasonal_naive,
)
from invspark.kernels.forecast_models.temporal_aggregation import adida

MODELS: dict[str, Callable[..., ModelForecast]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "historic_average": historic_average,
    "moving_average": moving_average,
    "ses": ses,
    "holt_damped": holt_damped,
    "ets_seasonal": ets_seasonal,
    "croston": croston,
    "sba": sba,
    "tsb": tsb,
    "adida": adida,
}

__all__ = [
    "MODELS",
    "ModelForecast",
    "adida",
    "croston",
    "ets_seasonal",
    "group_seasonal_profile",
    "historic_average",
    "holt_damped",
    "moving_average",
    "naive",
    "sba",
    "seasonal_naive",
    "seasonal_profile",
    "ses",
    "tsb",
]
