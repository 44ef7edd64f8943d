"""Level calibration of forecasts on backtest errors, and the forecast stage's use of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invspark.kernels import forecast_intervals, level_calibration
from invspark.stages.forecast import ForecastSettings, forecast_bucket


def test_factor_recovers_a_proportional_truth():
    rng = np.random.default_rng(0)
    forecast = rng.uniform(1, 10, (1, 200, 6))  # (M, n, H)
    actual = 0.65 * forecast[0]
    moments = level_calibration.error_moments(forecast, actual, np.ones(200))
    codes = [np.zeros(200, dtype=int)]
    factors = level_calibration.level_factors(moments, codes, codes, min_series=30)
    np.testing.assert_allclose(factors, 0.65)


def test_small_groups_fall_back_to_the_coarser_group_then_to_one():
    rng = np.random.default_rng(1)
    forecast = rng.uniform(1, 10, (1, 100, 4))
    actual = forecast[0] * np.where(np.arange(100) < 90, 0.5, 1.2)[:, None]
    moments = level_calibration.error_moments(forecast, actual, np.ones(100))
    coarse, fine = np.zeros(100, dtype=int), (np.arange(100) >= 90).astype(int)  # fine group 1 has 10 series
    factors = level_calibration.level_factors(moments, [coarse, fine], [coarse, fine], min_series=20)
    assert factors[0, 0] == 0.5  # its own group, 90 series
    assert factors[0, -1] == factors[0, 0]  # too small: the coarse group's factor
    alone = level_calibration.level_factors(moments[:, :, 90:], [fine[90:]], [fine[90:]], min_series=20)
    np.testing.assert_array_equal(alone, 1.0)  # no group is large enough: not calibrated


def test_groups_are_matched_by_code_not_position():
    forecast = np.ones((1, 60, 3))
    actual = np.where(np.arange(60) < 30, 0.3, 0.9)[:, None] * forecast[0]
    moments = level_calibration.error_moments(forecast, actual, np.ones(60))
    fit = [(np.arange(60) >= 30).astype(int)]
    query = [np.array([1, 0, 1])]  # three series to calibrate, by group code
    np.testing.assert_allclose(level_calibration.level_factors(moments, fit, query, min_series=10), [[0.9, 0.3, 0.9]])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40))
def test_factor_minimises_the_mean_rmsse_over_the_grid(seed, n):
    """The closed-form quadratic equals a direct evaluation of mean RMSSE at every grid value."""
    rng = np.random.default_rng(seed)
    forecast = rng.gamma(1.0, 3.0, (1, n, 5))
    actual = rng.poisson(rng.uniform(0.2, 2.0, (n, 1)) * forecast[0]).astype(float)
    actual[rng.random(actual.shape) < 0.1] = np.nan
    scale2 = rng.uniform(0.5, 4.0, n)
    moments = level_calibration.error_moments(forecast, actual, scale2)
    codes = [np.zeros(n, dtype=int)]
    factor = level_calibration.level_factors(moments, codes, codes, min_series=1)[0, 0]
    grid = level_calibration.FACTOR_GRID

    def mean_rmsse(c):
        with np.errstate(invalid="ignore"):
            per_series = np.sqrt(np.nanmean((actual - c * forecast[0]) ** 2, axis=1) / scale2)
        return np.nanmean(per_series)

    direct = np.array([mean_rmsse(c) for c in grid])
    assert mean_rmsse(factor) == pytest.approx(direct.min(), rel=1e-9, abs=1e-12)


def test_residual_mean_pools_per_group():
    residuals = np.zeros((2, 4, 3))
    residuals[:, :2] = 1.5
    residuals[:, 2:] = -0.5
    residuals[0, 0, 0] = np.nan
    mean = forecast_intervals.residual_mean(residuals, [np.array([0, 0, 1, 1])], min_points=2)
    np.testing.assert_allclose(mean[:2], 1.5)
    np.testing.assert_allclose(mean[2:], -0.5)


T, H = 48, 6


def declining_panel(n=240, seed=0):
    """Monthly Poisson demand whose level halves every year: every level model over-forecasts."""
    rng = np.random.default_rng(seed)
    t = np.arange(T + H)
    rate = rng.gamma(3.0, 4.0, n)[:, None] * 0.5 ** (t / 12)[None, :]
    demand = rng.poisson(rate).astype(float)
    panel = pd.DataFrame({
        "sku_id": [f"sku{i}" for i in range(n)], "location_id": "store1", "bucket": 0,
        "units": list(demand[:, :T]), "censored": list(np.zeros((n, T), dtype=bool)),
        "price": list(np.ones((n, T))), "promo": list(np.zeros((n, T))),
        "future_price": list(np.ones((n, H))), "future_promo": list(np.zeros((n, H))), "category": "parts",
        "unit_cost": 1.0, "unit_price": 2.0, "lead_time_mean": 2.0, "lead_time_std": 0.0, "review_period": 1.0,
        "abc": "A", "category_mean_units": list(np.full((n, T), np.nan)),
    })
    return panel, rate[:, T:]


def test_calibration_corrects_a_declining_level_and_keeps_the_distribution_centred():
    panel, future_rate = declining_panel()
    base = dict(frequency="M", horizon=H, n_periods=T, models=("moving_average", "ses", "adida", "ensemble"))
    plain = forecast_bucket(panel, ForecastSettings(**base, level_calibration=False))
    calibrated = forecast_bucket(panel, ForecastSettings(**base, level_calibration=True))

    def level(frame):
        return np.stack(frame["mean"].to_numpy()).mean()

    truth = future_rate.mean()
    assert level(plain) > 1.3 * truth  # a level model lags a decline
    assert abs(level(calibrated) - truth) < 0.5 * abs(level(plain) - truth)
    # the distribution over lead time + review (3 periods) is centred on the demand, not the point forecast
    expected = future_rate[:, :3].sum(axis=1).mean()
    assert calibrated["lead_time_demand_mean"].mean() == pytest.approx(expected, rel=0.25)


def test_calibration_leaves_a_stationary_panel_nearly_alone():
    rng = np.random.default_rng(4)
    panel, _ = declining_panel(seed=4)
    rate = rng.gamma(3.0, 4.0, len(panel))[:, None] * np.ones((1, T))
    panel["units"] = list(rng.poisson(rate).astype(float))
    base = dict(frequency="M", horizon=H, n_periods=T, models=("moving_average", "ses", "ensemble"))
    plain = forecast_bucket(panel, ForecastSettings(**base, level_calibration=False))
    calibrated = forecast_bucket(panel, ForecastSettings(**base, level_calibration=True))
    ratio = np.stack(calibrated["mean"].to_numpy()).mean() / np.stack(plain["mean"].to_numpy()).mean()
    assert 0.9 <= ratio <= 1.1

