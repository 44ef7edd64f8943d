"""Forecast accuracy metrics: hand-computed values, utilsforecast's definitions, a per-series loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from invspark.kernels import forecast_metrics as fm
from reference.forecast_metrics_reference import error_sums_one, m5_scale_one


def test_hand_computed_wape_bias_rmsse():
    # history 0,2,4,3,5: first sale at t=1, diffs 2^2, 1^2, 2^2 -> M5 scale 3
    history = np.array([[0.0, 2.0, 4.0, 3.0, 5.0]])
    actual = np.array([[10.0, 0.0, 5.0, 5.0]])
    forecast = np.array([[8.0, 2.0, 5.0, 7.0]])
    scale2 = fm.m5_scale(history)
    assert scale2[0] == pytest.approx(3.0)
    assert fm.wape(actual, forecast)[0] == pytest.approx(6.0 / 20.0)
    assert fm.bias(actual, forecast)[0] == pytest.approx(2.0 / 20.0)
    # squared errors 4, 4, 0, 4 -> MSE 3 -> RMSSE sqrt(3 / 3) = 1
    assert fm.rmsse(actual, forecast, scale2)[0] == pytest.approx(1.0)


def test_pinball_textbook_values():
    # q = 0.9: under-forecast by 2 costs 0.9 * 2, over-forecast by 2 costs 0.1 * 2
    assert fm.quantile_loss(np.array([10.0]), np.array([8.0]), 0.9)[0] == pytest.approx(1.8)
    assert fm.quantile_loss(np.array([10.0]), np.array([12.0]), 0.9)[0] == pytest.approx(0.2)
    assert fm.quantile_loss(np.array([10.0]), np.array([10.0]), 0.5)[0] == 0.0


def test_missing_points_are_not_scored():
    actual = np.array([[10.0, np.nan, 5.0]])
    forecast = np.array([[8.0, 100.0, 5.0]])
    assert fm.wape(actual, forecast)[0] == pytest.approx(2.0 / 15.0)
    assert fm.coverage_upper(actual, np.array([[9.0, 0.0, 6.0]]))[0] == pytest.approx(0.5)
    assert np.isnan(fm.wape(np.array([[np.nan]]), np.array([[1.0]]))[0])


def test_m5_scale_starts_at_first_sale_and_skips_censored():
    history = np.array([[0.0, 0.0, 0.0, 4.0, 6.0, 0.0, 2.0]])
    censored = np.array([[False, False, False, False, False, True, False]])
    # after the first sale: 4, 6, (censored), 2 -> only the pair (4, 6) is valid
    assert fm.m5_scale(history, censored)[0] == pytest.approx(4.0)
    assert np.isnan(fm.m5_scale(np.array([[3.0, 3.0, 3.0]]))[0])  # constant: no scale
    assert fm.safe_scale(np.array([np.nan]), np.array([[3.0, 3.0, 3.0]]))[0] == pytest.approx(9.0)


def test_safe_scale_of_a_series_that_just_started_ignores_its_leading_zeros():
    # one sale of 2 after 26 empty periods: no pair after the first sale, so the M5 scale is
    # undefined; the fallback is the level since that sale (2^2), not (2/27)^2, which would
    # blow the series' next errors up ~27-fold in every pooled error statistic
    history = np.array([[0.0] * 26 + [2.0], [np.nan] * 27, [0.0] * 27])
    assert fm.safe_scale(fm.m5_scale(history), history) == pytest.approx([4.0, 1.0, 1.0])


def test_matches_utilsforecast_rmsse_quantile_loss_and_coverage():
    losses = pytest.importorskip("utilsforecast.losses")
    rng = np.random.default_rng(0)
    n, T, H = 6, 30, 5
    history = rng.poisson(5.0, (n, T)).astype(float) + 1.0  # first value > 0: M5 start = whole history
    actual = rng.poisson(5.0, (n, H)).astype(float)
    forecast = rng.uniform(3, 7, (n, H))
    lower, upper = forecast - 2.0, forecast + 2.0
    ids = np.repeat([f"s{i}" for i in range(n)], H)
    df = pd.DataFrame({"unique_id": ids, "ds": np.tile(np.arange(T, T + H), n), "y": actual.ravel(),
                       "model": forecast.ravel(), "model-lo-80": lower.ravel(), "model-hi-80": upper.ravel()})
    train = pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n)], T), "ds": np.tile(np.arange(T), n), "y": history.ravel()})
    theirs = losses.rmsse(df, ["model"], seasonality=1, train_df=train).set_index("unique_id")["model"]
    ours = fm.rmsse(actual, forecast, fm.m5_scale(history))
    np.testing.assert_allclose(ours, theirs.loc[[f"s{i}" for i in range(n)]].to_numpy(), rtol=1e-10)
    theirs_q = losses.quantile_loss(df, {"model": "model"}, q=0.9).set_index("unique_id")["model"]
    np.testing.assert_allclose(fm.quantile_loss(actual, forecast, 0.9).mean(axis=1), theirs_q.loc[[f"s{i}" for i in range(n)]].to_numpy(), rtol=1e-10)
    theirs_c = losses.coverage(df, ["model"], level=80).set_index("unique_id")["model"]
    np.testing.assert_allclose(fm.coverage_interval(actual, lower, upper), theirs_c.loc[[f"s{i}" for i in range(n)]].to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_m5_scale_and_error_sums_match_per_series_loop(seed):
    rng = np.random.default_rng(seed)
    n, T, H = 25, 20, 6
    history = rng.poisson(rng.gamma(0.7, 3.0, (n, 1)), (n, T)).astype(float)
    history[rng.random((n, T)) < 0.1] = np.nan
    history[0] = np.nan
    history[1] = 4.0
    censored = rng.random((n, T)) < 0.1
    scale2 = fm.m5_scale(history, censored)
    for i in range(n):
        np.testing.assert_allclose(scale2[i], m5_scale_one(history[i], censored[i]), rtol=1e-12)
    actual = rng.poisson(3.0, (n, H)).astype(float)
    actual[rng.random((n, H)) < 0.2] = np.nan
    mean = rng.uniform(0, 6, (n, H))
    levels = (0.1, 0.5, 0.9)
    quantiles = np.sort(rng.uniform(0, 8, (3, n, H)), axis=0)
    safe = fm.safe_scale(scale2, history)
    sums = fm.error_sums(actual, mean, quantiles, levels, safe, quantiles[2])
    assert set(sums) == set(fm.ERROR_SUM_FIELDS)
    for i in range(n):
        expected = error_sums_one(actual[i], mean[i], quantiles[:, i], levels, safe[i], quantiles[2, i])
        for key, value in expected.items():
            np.testing.assert_allclose(sums[key][i], value, rtol=1e-12, err_msg=f"row {i} {key}")


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (3, 7), elements=st.floats(0, 100)), hnp.arrays(np.float64, (3, 7), elements=st.floats(0, 100)))
def test_metric_properties(actual, forecast):
    scale2 = np.full(3, 2.0)
    assert np.all(fm.rmsse(actual, actual, scale2) == 0.0)
    assert np.all(fm.rmsse(actual, forecast, scale2) >= 0.0)
    w = fm.wape(actual, forecast)
    assert np.all(np.isnan(w) | (w >= 0))
    # a higher upper quantile never covers fewer points
    assert np.all(fm.coverage_upper(actual, forecast + 1.0) >= fm.coverage_upper(actual, forecast))
