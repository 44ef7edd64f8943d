"""The forecasting model zoo: hand-computed values, per-series loop references, statsforecast.

Every model is checked three ways: a tiny series worked by hand (the arithmetic is in the
test), the obvious per-series loop in ``tests/reference/forecast_models_reference.py`` on a
random panel with the awkward rows (length-1, all-NaN, all-zero, constant, interior NaN,
censored), and statsforecast (Nixtla) on complete uncensored series where the definitions
coincide.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invspark.errors import ConfigError, InputDataError
from invspark.kernels.forecast_models import MODELS, ModelForecast, group_seasonal_profile, seasonal_profile
from invspark.kernels.forecast_models.base import first_observed_index
from reference.forecast_models_reference import (
    REFERENCES,
    panel,
    seasonal_profile_series,
)

SEASON = 7
HORIZON = 9


def forecast_one(name, values, censored=None, horizon=3, season_length=SEASON, **params):
    y = np.asarray(values, dtype=float)[None, :]
    flags = np.zeros_like(y, dtype=bool) if censored is None else np.asarray(censored)[None, :]
    return MODELS[name](y, flags, horizon, season_length, **params)


def awkward_panel(seed: int = 0, n_periods: int = 30):
    """Random integer demand plus the rows every model must survive: (n_series, n_periods)."""
    rng = np.random.default_rng(seed)
    rows, flags = [], []

    def add(row, censored=None):
        rows.append(np.asarray(row, dtype=float))
        flags.append(np.zeros(n_periods, bool) if censored is None else censored)

    nan = np.full(n_periods, np.nan)
    add(nan)  # all NaN
    length_one = nan.copy()
    length_one[-1] = 4.0
    add(length_one)  # length 1
    add(np.zeros(n_periods))  # all zero
    add(np.full(n_periods, 3.0))  # constant
    censored_zero = np.zeros(n_periods)
    add(censored_zero, np.ones(n_periods, bool))  # all censored zeros
    late = nan.copy()
    late[-5:] = [0, 2, 0, 0, 1]
    add(late)  # short intermittent
    for _ in range(20):
        level = rng.uniform(0.2, 8.0)
        seasonal = 1.0 + rng.uniform(0, 0.6) * np.sin(2 * np.pi * np.arange(n_periods) / SEASON)
        trend = 1.0 + rng.uniform(-0.02, 0.03) * np.arange(n_periods)
        row = rng.poisson(level * np.clip(seasonal * trend, 0.05, None)).astype(float)
        row[rng.random(n_periods) < rng.uniform(0, 0.6)] = 0.0  # intermittency
        start = rng.integers(0, n_periods)
        row[:start] = np.nan  # series started late
        row[rng.random(n_periods) < 0.08] = np.nan  # interior missing periods
        censored = (rng.random(n_periods) < 0.15) & ~np.isnan(row)
        add(row, censored)
    return np.vstack(rows), np.vstack(flags)


# ------------------------------------------------------------------------- hand-computed values


def test_naive_hand_computed():
    out = forecast_one("naive", [1.0, 2.0, np.nan, 3.0])
    np.testing.assert_array_equal(out.mean, [[3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(out.fitted, [[np.nan, 1.0, 2.0, 2.0]])


def test_naive_censored_sale_below_last_value_is_ignored():
    # 5 then a stockout week with 2 sold: 2 is only a lower bound below 5 -> keep 5
    out = forecast_one("naive", [5.0, 2.0], censored=[False, True])
    np.testing.assert_array_equal(out.mean, [[5.0, 5.0, 5.0]])
    # a censored 7 above the forecast is evidence demand was at least 7
    out = forecast_one("naive", [5.0, 7.0], censored=[False, True])
    np.testing.assert_array_equal(out.mean, [[7.0, 7.0, 7.0]])


def test_seasonal_naive_hand_computed():
    # m = 2, two seasons 1,5 | 2,6: next periods repeat the last season 2, 6, 2
    out = forecast_one("seasonal_naive", [1.0, 5.0, 2.0, 6.0], season_length=2)
    np.testing.assert_array_equal(out.mean, [[2.0, 6.0, 2.0]])
    # fitted: the first season has no slot yet -> naive fallback (NaN, 1), then one season back
    np.testing.assert_array_equal(out.fitted, [[np.nan, 1.0, 1.0, 5.0]])


def test_seasonal_naive_falls_back_to_naive_below_two_seasons():
    out = forecast_one("seasonal_naive", [1.0, 5.0, 2.0], season_length=2)
    np.testing.assert_array_equal(out.mean, [[2.0, 2.0, 2.0]])


def test_historic_average_hand_computed_skips_missing():
    # (1 + 2 + 3 + 6) / 4 = 3; fitted is the expanding mean before each period
    out = forecast_one("historic_average", [1.0, 2.0, 3.0, np.nan, 6.0])
    np.testing.assert_allclose(out.mean, [[3.0, 3.0, 3.0]])
    np.testing.assert_allclose(out.fitted, [[np.nan, 1.0, 1.5, 2.0, 2.0]])


def test_moving_average_hand_computed_window_counts_observed_periods():
    # window 2 over observed periods: last two observed are 3 and 5 -> 4
    out = forecast_one("moving_average", [1.0, 2.0, 3.0, np.nan, 5.0], window_size=2)
    np.testing.assert_allclose(out.mean, [[4.0, 4.0, 4.0]])
    np.testing.assert_allclose(out.fitted, [[np.nan, 1.0, 1.5, 2.5, 2.5]])


def test_ses_fixed_alpha_hand_computed():
    # alpha 0.5: l = 2; 4 -> 3; NaN keeps 3; 6 -> 4.5
    out = forecast_one("ses", [2.0, 4.0, np.nan, 6.0], alpha=0.5)
    np.testing.assert_allclose(out.mean, [[4.5, 4.5, 4.5]])
    np.testing.assert_allclose(out.fitted, [[np.nan, 2.0, 3.0, 3.0]])


def test_ses_censored_stockout_does_not_pull_the_level_down():
    # alpha 0.5: l = 4; censored 2 <= 4 is skipped; 6 -> 5
    out = forecast_one("ses", [4.0, 2.0, 6.0], censored=[False, True, False], alpha=0.5)
    np.testing.assert_allclose(out.mean, [[5.0, 5.0, 5.0]])
    # the same 2 uncensored does pull it down: 4 -> 3 -> 4.5
    out = forecast_one("ses", [4.0, 2.0, 6.0], alpha=0.5)
    np.testing.assert_allclose(out.mean, [[4.5, 4.5, 4.5]])


def test_holt_damped_fixed_parameters_hand_computed():
    # alpha = beta = 0.5, phi = 0.9 on 10, 12, 14 with l = 10, b = 0:
    # t=2: f = 10, e = 2, l = 11, b = 0.5 * 1 + 0.5 * 0.9 * 0 = 0.5
    # t=3: f = 11.45, e = 2.55, l = 12.725, b = 0.5 * 1.725 + 0.45 * 0.5 = 1.0875
    # h=1: 12.725 + 0.9 * 1.0875 = 13.70375; h=2: + 0.81 * 1.0875 = 14.584625
    out = forecast_one("holt_damped", [10.0, 12.0, 14.0], horizon=2, alpha=0.5, beta=0.5, phi=0.9)
    np.testing.assert_allclose(out.mean, [[13.70375, 14.584625]], rtol=1e-12)
    np.testing.assert_allclose(out.fitted, [[np.nan, 10.0, 11.45]], rtol=1e-12)


def test_holt_damped_missing_period_moves_along_the_trend_hand_computed():
    # alpha = beta = 0.5, phi = 0.9 on 10, 12, NaN, 16:
    # t=2: f = 10, e = 2 -> l = 11, b = 0.25 * 2 = 0.5
    # t=3 missing: transition only -> l = 11 + 0.45 = 11.45, b = 0.45
    # t=4: f = 11.45 + 0.405 = 11.855, e = 4.145 -> l = 13.9275, b = 0.405 + 0.25 * 4.145
    # h=1: 13.9275 + 0.9 * 1.44125 = 15.224625
    out = forecast_one(
        "holt_damped", [10.0, 12.0, np.nan, 16.0], horizon=1, alpha=0.5, beta=0.5, phi=0.9
    )
    np.testing.assert_allclose(out.mean, [[15.224625]], rtol=1e-12)
    np.testing.assert_allclose(out.fitted, [[np.nan, 10.0, 11.45, 11.855]], rtol=1e-12)


def test_holt_damped_follows_a_trend_and_truncates_at_zero():
    rising = forecast_one("holt_damped", np.arange(10.0, 40.0, 1.0), horizon=3)
    assert np.all(np.diff(rising.mean) > 0) and rising.mean[0, 0] > 39.0
    falling = forecast_one("holt_damped", np.arange(30.0, 0.0, -1.0), horizon=60)
    assert falling.mean.min() == 0.0


def test_croston_hand_computed():
    # y = 0, 3, 0, 0, 5, alpha 0.1: first demand 3 after an interval of 2 -> z = 3, p = 2;
    # demand 5 after 3 periods -> z = 0.1*5 + 0.9*3 = 3.2, p = 0.1*3 + 0.9*2 = 2.1
    out = forecast_one("croston", [0.0, 3.0, 0.0, 0.0, 5.0])
    np.testing.assert_allclose(out.mean, [[3.2 / 2.1] * 3], rtol=1e-12)
    np.testing.assert_allclose(out.fitted, [[np.nan, 0.0, 1.5, 1.5, 1.5]], rtol=1e-12)


def test_croston_censored_sale_counts_as_demand_but_does_not_shrink_the_size():
    # y = 0, 4, 0, 1 with the 1 censored: z stays 4 (1 <= 4), the interval still updates:
    # p = 2 -> 0.1 * 2 + 0.9 * 2 = 2, rate 4 / 2 = 2; uncensored z = 3.7 -> 3.7 / 2 = 1.85
    out = forecast_one("croston", [0.0, 4.0, 0.0, 1.0], censored=[False, False, False, True])
    np.testing.assert_allclose(out.mean, [[2.0] * 3], rtol=1e-12)
    out = forecast_one("croston", [0.0, 4.0, 0.0, 1.0])
    np.testing.assert_allclose(out.mean, [[1.85] * 3], rtol=1e-12)


def test_sba_is_croston_times_one_minus_half_alpha():
    out = forecast_one("sba", [0.0, 3.0, 0.0, 0.0, 5.0])
    np.testing.assert_allclose(out.mean, [[0.95 * 3.2 / 2.1] * 3], rtol=1e-12)


def test_croston_censored_zero_is_not_a_period_without_demand():
    # the censored zero is dropped, so 3 arrives after an interval of 1, not 2: rate 3
    out = forecast_one("croston", [0.0, 0.0, 3.0], censored=[False, True, False])
    np.testing.assert_allclose(out.mean, [[3.0 / 2.0] * 3], rtol=1e-12)
    out = forecast_one("croston", [0.0, 0.0, 3.0])
    np.testing.assert_allclose(out.mean, [[3.0 / 3.0] * 3], rtol=1e-12)


def test_tsb_hand_computed():
    # y = 0, 4, 0, 2: p = 0 -> 0.1 -> 0.09 -> 0.181; z = 4 -> 0.1*2 + 0.9*4 = 3.8
    out = forecast_one("tsb", [0.0, 4.0, 0.0, 2.0])
    np.testing.assert_allclose(out.mean, [[0.181 * 3.8] * 3], rtol=1e-12)
    np.testing.assert_allclose(out.fitted, [[np.nan, 0.0, 0.4, 0.36]], rtol=1e-12)


def test_adida_hand_computed_regular_interval():
    # demand every 2nd period: mean interval 2 -> buckets of 2 sum to 2 each -> 2 / 2 = 1
    out = forecast_one("adida", [0.0, 2.0] * 4)
    np.testing.assert_allclose(out.mean, [[1.0, 1.0, 1.0]], rtol=1e-12)


def test_adida_hand_computed_golden_section_hits_the_bound():
    # 5,0,3,0,0,3: intervals 1,2,3 -> k = 2 -> sums 5,3,3. SSE(a) = 4 + (2a - 2)^2 falls on
    # [0.1, 0.3], so alpha -> 0.3 and the sum forecast is 5 - 4a + 2a^2 = 3.98 -> 3.98 / 2
    out = forecast_one("adida", [5.0, 0.0, 3.0, 0.0, 0.0, 3.0])
    np.testing.assert_allclose(out.mean, [[1.99] * 3], rtol=1e-7)


def test_ets_seasonal_recovers_an_exact_multiplicative_pattern():
    pattern = np.array([0.5, 1.0, 1.5, 1.0])
    out = forecast_one("ets_seasonal", np.tile(10.0 * pattern, 3), horizon=6, season_length=4)
    np.testing.assert_allclose(out.mean, [[5.0, 10.0, 15.0, 10.0, 5.0, 10.0]], rtol=1e-12)


def test_ets_seasonal_is_holt_damped_below_two_seasons():
    y, censored = awkward_panel(seed=6, n_periods=13)  # 13 < 2 * 7 periods: no series qualifies
    seasonal = MODELS["ets_seasonal"](y, censored, 5, SEASON)
    plain = MODELS["holt_damped"](y, censored, 5, SEASON)
    np.testing.assert_array_equal(seasonal.mean, plain.mean)
    np.testing.assert_array_equal(seasonal.fitted, plain.fitted)


def test_seasonal_profile_is_one_below_two_seasons_and_shrinks_noise():
    rng = np.random.default_rng(3)
    short = rng.poisson(5.0, size=(1, 13)).astype(float)
    np.testing.assert_array_equal(seasonal_profile(short, short < 0, 7), np.ones((1, 7)))
    # pure Poisson noise, no seasonality: the shrunk index stays much closer to 1 than the raw
    noise = rng.poisson(3.0, size=(200, 3 * 52)).astype(float)
    profile = seasonal_profile(noise, noise < 0, 52)
    raw = noise.reshape(200, 3, 52).sum(axis=1) / (3 * noise.mean(axis=1, keepdims=True))
    assert np.abs(profile - 1).mean() < 0.25 * np.abs(raw - 1).mean()


def test_ets_seasonal_beats_holt_on_seasonal_weekly_demand():
    rng = np.random.default_rng(5)
    weeks = 3 * 52 + 13
    peak = 1.0 + 0.8 * np.exp(-0.5 * ((np.arange(weeks) % 52 - 46) / 3.0) ** 2)
    demand = rng.poisson(6.0 * peak, size=(300, weeks)).astype(float)
    history, future = demand[:, :-13], demand[:, -13:]
    flags = np.zeros_like(history, dtype=bool)
    seasonal = MODELS["ets_seasonal"](history, flags, 13, 52).mean
    plain = MODELS["holt_damped"](history, flags, 13, 52).mean
    assert np.abs(seasonal - future).mean() < 0.9 * np.abs(plain - future).mean()


# --------------------------------------------------------------------- per-series loop reference


@pytest.mark.parametrize("name", sorted(MODELS))
def test_matches_per_series_reference_on_awkward_panel(name):
    y, censored = awkward_panel(seed=1)
    out = MODELS[name](y, censored, HORIZON, SEASON)
    ref_mean, ref_fitted = panel(REFERENCES[name], y, censored, HORIZON, SEASON)
    assert isinstance(out, ModelForecast) and out.name == name
    assert out.mean.shape == (y.shape[0], HORIZON) and out.fitted.shape == y.shape
    np.testing.assert_allclose(out.mean, ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out.fitted, ref_fitted, rtol=1e-9, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), integer_units=st.booleans())
def test_matches_per_series_reference_on_random_panels(seed, integer_units):
    y, censored = awkward_panel(seed=seed, n_periods=22)
    if not integer_units:
        y = y * np.random.default_rng(seed).uniform(0.3, 3.0, size=y.shape)
    for name in sorted(MODELS):
        out = MODELS[name](y, censored, 4, SEASON)
        ref_mean, ref_fitted = panel(REFERENCES[name], y, censored, 4, SEASON)
        # ADIDA's bucket sums come from a cumulative sum, the reference adds them up directly:
        # with fractional units the last bits differ and the golden-section search may take
        # the other branch once its bracket is ~1e-8 wide
        rtol = 1e-6 if name == "adida" and not integer_units else 1e-9
        np.testing.assert_allclose(out.mean, ref_mean, rtol=rtol, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(out.fitted, ref_fitted, rtol=rtol, atol=1e-12, err_msg=name)


def test_seasonal_profile_matches_per_series_reference():
    y, censored = awkward_panel(seed=2, n_periods=40)
    profile = seasonal_profile(y, censored, SEASON)
    reference = np.array(
        [seasonal_profile_series(y[i], censored[i], SEASON) for i in range(len(y))]
    )
    np.testing.assert_allclose(profile, reference, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forecasts_are_finite_and_non_negative_where_history_exists(name):
    y, censored = awkward_panel(seed=4)
    out = MODELS[name](y, censored, HORIZON, SEASON)
    has_history = ~np.isnan(y).all(axis=1)
    assert np.isfinite(out.mean[has_history]).all()
    assert (out.mean[has_history] >= 0).all()
    assert np.isnan(out.mean[~has_history]).all()
    assert np.isnan(out.fitted[~has_history]).all()
    assert (out.fitted[~np.isnan(out.fitted)] >= 0).all()


# ------------------------------------------------------------------------------ statsforecast


def complete_panel(seed: int, n_series: int = 12, n_periods: int = 40):
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.3, 6.0, size=(n_series, 1))
    y = rng.poisson(level, size=(n_series, n_periods)).astype(float)
    y *= rng.random((n_series, n_periods)) < rng.uniform(0.2, 1.0, size=(n_series, 1))
    y[0] = 0.0
    y[1, :-1] = 0.0
    y[1, -1] = 3.0
    y[2] = rng.uniform(0, 10, n_periods)  # non-integer demand
    return y


def statsforecast_models():
    sf = pytest.importorskip("statsforecast.models")
    return {
        "naive": (sf.Naive(), {}, True),
        "seasonal_naive": (sf.SeasonalNaive(season_length=SEASON), {}, False),
        "historic_average": (sf.HistoricAverage(), {}, False),
        "ses": (sf.SimpleExponentialSmoothingOptimized(), {}, True),
        "croston": (sf.CrostonClassic(), {}, True),
        "sba": (sf.CrostonSBA(), {}, True),
        "tsb": (sf.TSB(alpha_d=0.2, alpha_p=0.05), {"alpha_d": 0.2, "alpha_p": 0.05}, True),
        "adida": (sf.ADIDA(), {}, False),
    }


@pytest.mark.parametrize(
    "name", ["naive", "seasonal_naive", "historic_average", "ses", "croston", "sba", "tsb", "adida"]
)
def test_equals_statsforecast_on_complete_series(name):
    model, params, compare_fitted = statsforecast_models()[name]
    y = complete_panel(seed=7)
    out = MODELS[name](y, np.zeros_like(y, dtype=bool), HORIZON, SEASON, **params)
    expected = [model.forecast(y=row.copy(), h=HORIZON, fitted=True) for row in y]
    np.testing.assert_allclose(out.mean, np.array([e["mean"] for e in expected]), rtol=1e-6)
    if compare_fitted:
        np.testing.assert_allclose(
            out.fitted, np.array([e["fitted"] for e in expected]), rtol=1e-6, atol=1e-9
        )


def test_ses_fixed_alpha_and_moving_average_equal_statsforecast():
    sf = pytest.importorskip("statsforecast.models")
    y = complete_panel(seed=8)
    flags = np.zeros_like(y, dtype=bool)
    out = MODELS["ses"](y, flags, HORIZON, SEASON, alpha=0.3)
    ses_fixed = sf.SimpleExponentialSmoothing(alpha=0.3)
    expected = [ses_fixed.forecast(y=r.copy(), h=HORIZON, fitted=True) for r in y]
    np.testing.assert_allclose(out.mean, [e["mean"] for e in expected], rtol=1e-9)
    np.testing.assert_allclose(out.fitted, [e["fitted"] for e in expected], rtol=1e-9, atol=1e-12)
    out = MODELS["moving_average"](y, flags, HORIZON, SEASON, window_size=5)
    expected = [sf.WindowAverage(window_size=5).forecast(y=r.copy(), h=HORIZON)["mean"] for r in y]
    np.testing.assert_allclose(out.mean, expected, rtol=1e-9)


@pytest.mark.parametrize(
    "name", ["naive", "historic_average", "ses", "croston", "sba", "tsb", "adida"]
)
def test_missing_periods_are_skipped_not_zeros_statsforecast_on_the_observed_periods(name):
    # leading and interior NaNs: the same forecast as statsforecast on the observed periods only
    model, params, _ = statsforecast_models()[name]
    y = complete_panel(seed=9, n_periods=30)
    rng = np.random.default_rng(9)
    gappy = np.full((y.shape[0], 45), np.nan)
    for row in range(y.shape[0]):
        columns = np.sort(rng.choice(np.arange(5, 45), size=30, replace=False))
        gappy[row, columns] = y[row]
    out = MODELS[name](gappy, np.zeros_like(gappy, dtype=bool), 4, SEASON, **params)
    expected = [model.forecast(y=r.copy(), h=4)["mean"] for r in y]
    np.testing.assert_allclose(out.mean, expected, rtol=1e-6)


# ---------------------------------------------------------------------------- properties, errors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    constant=st.floats(min_value=0.5, max_value=1e4),
    n_periods=st.integers(min_value=1, max_value=40),
    leading=st.integers(min_value=0, max_value=10),
)
def test_a_constant_series_forecasts_its_constant(constant, n_periods, leading):
    y = np.concatenate([np.full(leading, np.nan), np.full(n_periods, constant)])[None, :]
    flags = np.zeros_like(y, dtype=bool)
    for name in ("naive", "seasonal_naive", "historic_average", "moving_average", "ses",
                 "holt_damped", "ets_seasonal", "croston", "sba", "adida"):
        out = MODELS[name](y, flags, 5, 4)
        expected = constant * (0.95 if name == "sba" else 1.0)
        np.testing.assert_allclose(out.mean, expected, rtol=1e-9, err_msg=name)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_series_are_independent_of_their_neighbours(seed):
    y, censored = awkward_panel(seed=seed, n_periods=16)
    rng = np.random.default_rng(seed)
    order = rng.permutation(y.shape[0])
    for name in ("ses", "holt_damped", "ets_seasonal", "adida", "tsb"):
        whole = MODELS[name](y, censored, 3, 4)
        shuffled = MODELS[name](y[order], censored[order], 3, 4)
        np.testing.assert_allclose(shuffled.mean, whole.mean[order], rtol=1e-12, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), share=st.floats(0.05, 0.9))
def test_censoring_can_only_raise_the_forecast(seed, share):
    # skipping an observation below the current forecast equals replacing it by that forecast,
    # and these recursions are non-decreasing in every observation
    y, _ = awkward_panel(seed=seed, n_periods=20)
    rng = np.random.default_rng(seed)
    censored = (rng.random(y.shape) < share) & ~np.isnan(y)
    no_stockouts = np.zeros_like(censored)
    for name, params in (("naive", {}), ("ses", {"alpha": 0.3}), ("croston", {}), ("sba", {}),
                         ("tsb", {"alpha_d": 0.3, "alpha_p": 0.2})):
        with_stockouts = MODELS[name](y, censored, 2, SEASON, **params).mean
        plain = MODELS[name](y, no_stockouts, 2, SEASON, **params).mean
        has_history = ~np.isnan(plain[:, 0])
        assert (with_stockouts[has_history] >= plain[has_history] - 1e-12).all(), name


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), power=st.integers(-6, 10))
def test_forecasts_scale_with_demand(seed, power):
    # a power of two scales every floating-point step exactly, so no comparison can flip
    y, censored = awkward_panel(seed=seed, n_periods=24)
    scale = 2.0**power
    for name in sorted(MODELS):
        base = MODELS[name](y, censored, 3, 4)
        scaled = MODELS[name](y * scale, censored, 3, 4)
        np.testing.assert_allclose(scaled.mean, base.mean * scale, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(scaled.fitted, base.fitted * scale, rtol=1e-12, err_msg=name)


def test_bad_inputs_raise_with_the_argument_named():
    y = np.ones((2, 5))
    flags = np.zeros((2, 5), dtype=bool)
    with pytest.raises(InputDataError, match="y must be a 2-D"):
        MODELS["ses"](np.ones(5), np.zeros(5, bool), 3, 7)
    with pytest.raises(InputDataError, match="censored must have the shape"):
        MODELS["ses"](y, flags[:, :3], 3, 7)
    with pytest.raises(InputDataError, match="censored must be a bool"):
        MODELS["ses"](y, flags.astype(int), 3, 7)
    with pytest.raises(InputDataError, match="y must be >= 0"):
        MODELS["naive"](-y, flags, 3, 7)
    with pytest.raises(ConfigError, match="horizon must be an integer >= 1, got 0"):
        MODELS["croston"](y, flags, 0, 7)
    with pytest.raises(ConfigError, match="season_length must be an integer >= 1"):
        MODELS["seasonal_naive"](y, flags, 3, 0)
    with pytest.raises(ConfigError, match="alpha must be a number in"):
        MODELS["ses"](y, flags, 3, 7, alpha=1.5)
    with pytest.raises(ConfigError, match="window_size must be an integer >= 1"):
        MODELS["moving_average"](y, flags, 3, 7, window_size=0)


def test_registry_names_the_eleven_models():
    assert sorted(MODELS) == sorted([
        "naive", "seasonal_naive", "historic_average", "moving_average", "ses", "holt_damped",
        "ets_seasonal", "croston", "sba", "tsb", "adida",
    ])


def test_group_seasonal_profile_recovers_each_groups_pattern_from_one_season_per_series():
    """Withycombe's group indices: two categories of series at different levels, each with one
    whole season (plus a few periods) of an exact multiplicative pattern; every series gets its
    own group's pattern back (no noise: nothing to shrink), aligned with the origin."""
    patterns = np.array([[0.5, 1.0, 1.5, 1.0], [1.2, 1.2, 0.8, 0.8]])
    group = np.array([0, 0, 0, 1, 1])
    level = np.array([2.0, 10.0, 40.0, 5.0, 7.0])
    periods = np.arange(6)  # 1.5 seasons; period t is at position t % 4 of the pattern
    y = level[:, None] * patterns[group][:, periods % 4]
    y[1, 0] = np.nan  # a later start still leaves one whole season
    profile = group_seasonal_profile(y, np.zeros_like(y, dtype=bool), 4, group)
    # column j is the position of period T - 4 + j = 2 + j
    np.testing.assert_allclose(profile, patterns[group][:, (2 + np.arange(4)) % 4], rtol=1e-12)


def test_group_seasonal_profile_is_one_without_a_whole_season_and_shrinks_noise():
    rng = np.random.default_rng(5)
    short = rng.poisson(5.0, size=(4, 6)).astype(float)
    np.testing.assert_array_equal(group_seasonal_profile(short, short < 0, 7, np.zeros(4, dtype=int)), np.ones((4, 7)))
    # 300 series of pure Poisson noise in three groups: the shrunk group index stays near 1
    noise = rng.poisson(2.0, size=(300, 52 + 10)).astype(float)
    profile = group_seasonal_profile(noise, noise < 0, 52, np.arange(300) % 3)
    assert np.abs(profile - 1).max() < 0.05
    # a real pattern in the same noise survives the shrinkage
    pattern = 1.0 + 0.5 * np.sin(2 * np.pi * np.arange(52) / 52)
    seasonal = rng.poisson(2.0 * pattern[np.arange(62) % 52][None, :], size=(300, 62)).astype(float)
    profile = group_seasonal_profile(seasonal, seasonal < 0, 52, np.arange(300) % 3)
    expected = pattern[(10 + np.arange(52)) % 52]  # column j: period 62 - 52 + j
    assert np.abs(profile - expected).mean() < 0.1


def test_a_group_of_one_series_with_two_seasons_has_the_series_own_profile():
    y, censored = awkward_panel(seed=8, n_periods=3 * SEASON + 2)
    two_seasons = (y.shape[1] - first_observed_index(y)) // SEASON >= 2
    assert 0 < two_seasons.sum() < len(y)
    own = seasonal_profile(y, censored, SEASON)
    grouped = group_seasonal_profile(y, censored, SEASON, np.arange(len(y)))
    np.testing.assert_allclose(grouped[two_seasons], own[two_seasons], rtol=1e-12)
