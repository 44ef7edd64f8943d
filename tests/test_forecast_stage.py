"""The forecast stage on small generated panels, and its interval / distribution / LightGBM kernels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from invspark.errors import ConfigError, InputDataError
from invspark.kernels import demand_distribution, forecast_intervals, trading_calendar
from invspark.kernels.global_model import GlobalModelSettings, forecast_global
from invspark.stages.forecast import (
    FORECAST_BUCKET_SCHEMA,
    ForecastSettings,
    accuracy_from_backtest,
    forecast_bucket,
)

T, H = 60, 6


def make_panel(n=120, periods=T, horizon=H, seed=0, n_new=4):
    """A monthly panel: Poisson demand with yearly seasonality, promotions that double demand,
    30% slow movers, 2% stock-outs (units halved: a lower bound), ``n_new`` items with 4 periods of life."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods + horizon)
    level = rng.gamma(2.0, 5.0, n)[:, None]
    promo = (rng.random((n, periods + horizon)) < 0.15).astype(float)
    price = np.where(promo > 0, 0.8, 1.0) * rng.uniform(1, 5, n)[:, None]
    rate = level * (1 + 0.3 * np.sin(2 * np.pi * t / 12))[None, :] * np.where(promo > 0, 2.0, 1.0)
    rate = np.where((rng.random(n) < 0.3)[:, None], rate * 0.05, rate)
    demand = rng.poisson(rate).astype(float)
    censored = rng.random((n, periods)) < 0.02
    units = demand[:, :periods].copy()
    units[censored] = np.floor(units[censored] / 2)
    units[:n_new, : periods - 4] = np.nan
    category = np.where(np.arange(n) % 2 == 0, "snacks", "cereal")
    category_mean = np.vstack([np.nanmean(demand[n_new:][category[n_new:] == c, :periods], axis=0) for c in category])
    panel = pd.DataFrame({
        "sku_id": [f"sku{i}" for i in range(n)], "location_id": "store1", "bucket": 0,
        "units": list(units), "censored": list(censored), "price": list(price[:, :periods]), "promo": list(promo[:, :periods]),
        "future_price": list(price[:, periods:]), "future_promo": list(promo[:, periods:]), "category": category,
        "unit_cost": 1.0, "unit_price": 2.0, "lead_time_mean": 2.0, "lead_time_std": 0.5, "review_period": 1.0,
        "abc": np.where(np.arange(n) % 3 == 0, "A", "B"), "category_mean_units": list(category_mean),
    })
    return panel, demand[:, periods:]


# a small LightGBM (40 rounds) keeps the test file fast; the defaults are exercised by the scripts
SETTINGS = ForecastSettings(frequency="M", horizon=H, n_periods=T, lightgbm=GlobalModelSettings(
    season_length=12, windows=(3, 6, 12), lags=(1, 2, 3, 12), level_window=6, num_boost_round=40))


@pytest.fixture(scope="module")
def result():
    panel, future = make_panel()
    return panel, future, forecast_bucket(panel, SETTINGS)


def lists(frame, column):
    return np.stack(frame[column].to_numpy())


def test_one_row_per_series_and_every_column_filled(result):
    panel, _, out = result
    assert list(out.columns) == FORECAST_BUCKET_SCHEMA.names
    assert out[["sku_id", "location_id"]].equals(panel[["sku_id", "location_id"]])
    assert not out.drop(columns=["backtest", "demand_shape", "adi"]).isna().any().any()
    never_sold = [not (np.nan_to_num(np.asarray(units, dtype=float)) > 0).any() for units in panel["units"]]
    assert out["adi"].isna().tolist() == never_sold  # no demand yet: no inter-demand interval
    assert out["demand_shape"].isna().to_numpy().tolist() == (out["distribution"] != "empirical").tolist()
    table = pa.Table.from_pandas(out, schema=FORECAST_BUCKET_SCHEMA, preserve_index=False)
    assert table.num_rows == len(panel)
    established = out["lifecycle"] != "new"
    assert (out.loc[established, "backtest"].map(len) > 0).all()
    assert set(out["segment"]) >= {"new"}
    assert set(out["distribution"]) <= set(demand_distribution.FAMILIES)
    assert all(len(row) == H for row in out["p99"])


def test_quantiles_monotone_and_non_negative(result):
    _, _, out = result
    stacked = np.stack([lists(out, c) for c in ("p10", "p50", "p90", "p95", "p99")])  # (5, n, H)
    assert np.all(stacked >= 0)
    assert np.all(np.diff(stacked, axis=0) >= 0)
    assert np.all(lists(out, "mean") >= 0)


def test_holdout_coverage_is_calibrated(result):
    # 120 generated series x 6 months: a sanity band around the nominal levels, not a benchmark
    _, future, out = result
    established = (out["lifecycle"] != "new").to_numpy()
    covered90 = (future <= lists(out, "p90"))[established].mean()
    covered99 = (future <= lists(out, "p99"))[established].mean()
    assert 0.82 <= covered90 <= 0.97
    assert covered99 >= 0.95


def test_backtest_aggregates_to_forecast_accuracy(result):
    _, _, out = result
    accuracy = accuracy_from_backtest(out)
    assert list(accuracy.columns) == ["model", "segment", "fold", "wape", "rmsse", "bias", "pinball", "coverage_p90"]
    assert set(accuracy["fold"]) == {1, 2, 3}
    assert {"ensemble", "lightgbm", "sba", "ets_seasonal"} <= set(accuracy["model"])
    # recompute one cell by hand from the struct entries
    segment = out["segment"].iloc[-1]
    entries = [e for seg, bt in zip(out["segment"], out["backtest"]) if seg == segment for e in bt
               if e["model"] == "ensemble" and e["fold"] == 2]
    row = accuracy.query("model == 'ensemble' and fold == 2 and segment == @segment").iloc[0]
    assert row["wape"] == pytest.approx(sum(e["abs_error"] for e in entries) / sum(e["actual"] for e in entries))
    assert row["rmsse"] == pytest.approx(np.mean([np.sqrt(e["squared_scaled_error"] / e["n_points"]) for e in entries]))
    assert row["coverage_p90"] == pytest.approx(sum(e["covered_p90"] for e in entries) / sum(e["n_points"] for e in entries))


def test_censored_periods_are_scored_on_imputed_demand_or_not_at_all(result):
    """By default a stockout period is scored against its imputed demand (at least what sold);
    with ``censored_demand="lower_bound"`` it is not scored."""
    panel, _, out = result
    censored = np.stack(panel["censored"].to_numpy())
    units = np.stack(panel["units"].to_numpy())
    assert censored.sum() > 20  # the test can fail
    np.testing.assert_array_equal(out["history_stockout_periods"], censored.sum(axis=1))
    quick = replace(SETTINGS, models=("naive", "ses"), default_champion="naive", censored_demand="lower_bound")
    not_scored = forecast_bucket(panel, quick)
    for fold, origin in enumerate(SETTINGS.origins, start=1):
        observed = ~np.isnan(units[:, origin:origin + H])
        for frame, counted in ((out, observed), (not_scored, observed & ~censored[:, origin:origin + H])):
            for i in np.flatnonzero((frame["lifecycle"] != "new").to_numpy()):
                entry = next(e for e in frame["backtest"].iloc[i] if e["model"] == "naive" and e["fold"] == fold)
                assert entry["n_points"] == counted[i].sum()


def test_stockout_zeros_do_not_pull_the_forecast_down():
    panel, _ = make_panel(n=60, seed=3, n_new=0)
    units = np.stack(panel["units"].to_numpy())
    units[:, -4:] = 0.0  # four stocked-out periods with nothing sold
    censored = np.zeros_like(units, dtype=bool)
    censored[:, -4:] = True
    stocked_out = panel.assign(units=list(units), censored=list(censored))
    zeros_believed = panel.assign(units=list(units), censored=list(np.zeros_like(censored)))
    settings_ = ForecastSettings(frequency="M", horizon=H, n_periods=T, models=("naive", "ses"), default_champion="naive")
    with_mask = lists(forecast_bucket(stocked_out, settings_), "mean").mean()
    without_mask = lists(forecast_bucket(zeros_believed, settings_), "mean").mean()
    history_level = np.nanmean(units[:, -16:-4])
    assert with_mask > 1.5 * without_mask
    assert with_mask == pytest.approx(history_level, rel=0.35)


def test_no_leakage_across_folds():
    panel, _ = make_panel(n=80, seed=5, n_new=0)
    units = np.stack(panel["units"].to_numpy())
    perturbed = units.copy()
    perturbed[:, T - H:] = perturbed[:, T - H:] * 7 + 50  # only fold 1's evaluation window changes
    a = forecast_bucket(panel, SETTINGS)
    b = forecast_bucket(panel.assign(units=list(perturbed)), SETTINGS)
    for bt_a, bt_b in zip(a["backtest"], b["backtest"]):
        older_a = {(e["model"], e["fold"]): e for e in bt_a if e["fold"] > 1}
        older_b = {(e["model"], e["fold"]): e for e in bt_b if e["fold"] > 1}
        assert older_a.keys() == older_b.keys()
        for key, entry in older_a.items():
            for field in ("abs_error", "error", "squared_scaled_error", "n_points"):
                assert entry[field] == older_b[key][field], (key, field)
    fold1_a = [e["abs_error"] for bt in a["backtest"] for e in bt if e["fold"] == 1]
    fold1_b = [e["abs_error"] for bt in b["backtest"] for e in bt if e["fold"] == 1]
    assert fold1_a != fold1_b  # the test can fail: fold 1 does see the change


def test_new_items_borrow_the_category_level(result):
    _, _, out = result
    new = out["lifecycle"] == "new"
    assert new.sum() == 4 and (out.loc[new, "model"] == "category_borrow").all()
    assert (out.loc[new, "segment"] == "new").all()
    assert not out.loc[new, "backtest"].map(len).any()


def test_new_item_level_follows_its_sales_relative_to_the_category():
    panel, _ = make_panel(n=60, seed=2, n_new=0)
    units = np.stack(panel["units"].to_numpy())
    category = np.stack(panel["category_mean_units"].to_numpy())
    units[0:4] = np.nan
    units[1, -4:] = category[0, -4:]  # sells exactly like its category: ratio 1
    units[2, -4:] = 3 * category[0, -4:]  # sells three times its category
    units[3, -4:] = 0.0  # sold nothing in four periods
    panel = panel.assign(units=list(units), censored=list(np.zeros_like(units, dtype=bool)), category=["snacks"] * 60,
                         category_mean_units=[category[0]] * 60)
    mean = lists(forecast_bucket(panel, SETTINGS), "mean")
    np.testing.assert_allclose(mean[1], mean[0], rtol=1e-12)  # no history and "like the category" agree
    assert np.all(mean[2] > 1.5 * mean[1]) and np.all(mean[2] < 3 * mean[1])  # shrunk toward 1 but well above
    assert np.all(mean[3] < 0.5 * mean[1])


def test_new_items_take_the_model_that_forecast_earlier_new_items_better():
    """Launch orders that do not last (UCI Online Retail's new items): every item sells ~20 a
    period in its first 3 periods, then ~2. Borrowing (here the item's own mean, no category data)
    extrapolates the launch; the items that were new at the backtest origins show a model that
    does better, and today's new items get it."""
    rng = np.random.default_rng(5)
    n = 240
    launch = rng.integers(20, T - 2, n)  # (n,); 6-period min_history: dozens new at every origin
    age = np.arange(T + H)[None, :] - launch[:, None]  # (n, T + H)
    demand = rng.poisson(np.where(age < 3, 20.0, 2.0)).astype(float)
    units = np.where(age >= 0, demand, np.nan)[:, :T]
    panel, _ = make_panel(n=n, seed=5, n_new=0)
    panel = panel.assign(units=list(units), censored=list(np.zeros_like(units, dtype=bool)),
                         category_mean_units=list(np.full_like(units, np.nan)))
    out = forecast_bucket(panel, SETTINGS)
    new = (out["lifecycle"] == "new").to_numpy() & (T - launch >= 4)  # new, past the launch orders
    assert new.sum() >= 10
    assert not (out.loc[new, "model"] == "category_borrow").any()
    own_mean = np.nanmean(units[new], axis=1)  # what borrowing would forecast
    forecast = lists(out, "mean")[new].mean(axis=1)
    assert np.mean(np.abs(forecast - 2.0)) < 0.5 * np.mean(np.abs(own_mean - 2.0))
    strict = forecast_bucket(panel, replace(SETTINGS, new_item_min_series=10_000))
    assert (strict.loc[new, "model"] == "category_borrow").all()  # too few trials: borrow


def test_item_without_history_gets_the_category_forecast():
    panel, _ = make_panel(n=60, seed=1, n_new=0)
    units = np.stack(panel["units"].to_numpy())
    units[0] = np.nan
    out = forecast_bucket(panel.assign(units=list(units)), SETTINGS)
    category = np.asarray(panel["category_mean_units"].iloc[0])
    assert out["model"].iloc[0] == "category_borrow"
    assert np.mean(out["mean"].iloc[0]) == pytest.approx(category[-12:].mean(), rel=0.35)


def test_settings_and_panel_errors():
    with pytest.raises(ConfigError, match="frequency must be one of"):
        ForecastSettings(frequency="Q", horizon=4, n_periods=40)
    with pytest.raises(ConfigError, match="too short for backtest_folds"):
        ForecastSettings(frequency="W", horizon=13, n_periods=30)
    with pytest.raises(ConfigError, match="models must be a non-empty subset"):
        ForecastSettings(frequency="W", horizon=4, n_periods=40, models=("prophet",))
    panel, _ = make_panel(n=10, n_new=0)
    with pytest.raises(InputDataError, match="lacks columns \\['abc'\\]"):
        forecast_bucket(panel.drop(columns="abc"), SETTINGS)
    with pytest.raises(InputDataError, match="'future_promo' must hold lists of length 6"):
        forecast_bucket(panel.assign(future_promo=[np.zeros(3)] * 10), SETTINGS)


GLOBAL_SETTINGS = GlobalModelSettings(season_length=12, windows=(3, 6, 12), lags=(1, 2, 3, 12), min_data_in_leaf=20)


def lightgbm_history(n=150, seed=7):
    """``(demand, price, promo)`` history matrices of a generated panel: censored periods as NaN demand."""
    panel, _ = make_panel(n=n, seed=seed, n_new=0)
    units, censored, promo, price = (lists(panel, c) for c in ("units", "censored", "promo", "price"))
    return np.where(censored.astype(bool), np.nan, units), price, promo


def test_lightgbm_uses_the_planned_promotion():
    demand, price, promo = lightgbm_history()
    future_promo = np.zeros((150, H))
    future_promo[:, ::2] = 1.0
    future_price = price.max(axis=1, keepdims=True) * np.where(future_promo > 0, 0.8, 1.0)  # the generator's discount
    zeros = np.zeros(150, dtype=int)
    mean = forecast_global(demand, price, promo, future_price, future_promo, H, zeros, zeros, zeros, GLOBAL_SETTINGS)
    lift = mean[:, ::2].sum() / mean[:, 1::2].sum()
    assert lift > 1.4  # the generated promotions double demand


def test_lightgbm_reads_an_unplanned_period_as_regular_price_without_promotion():
    # the ingest leaves future_price / future_promo NaN where the promotions input plans nothing;
    # LightGBM never saw a missing price in training and would read NaN as a price of 0
    demand, price, promo = lightgbm_history()
    regular = price.max(axis=1, keepdims=True) * np.ones((1, H))
    zeros = np.zeros(150, dtype=int)
    unplanned = forecast_global(demand, price, promo, np.full((150, H), np.nan), np.full((150, H), np.nan), H,
                                zeros, zeros, zeros, GLOBAL_SETTINGS)
    regular_plan = forecast_global(demand, price, promo, regular, np.zeros((150, H)), H, zeros, zeros, zeros, GLOBAL_SETTINGS)
    np.testing.assert_allclose(unplanned, regular_plan)
    level = np.nanmean(np.where(promo[:, -12:] > 0, np.nan, demand[:, -12:]), axis=1)
    assert unplanned.mean() == pytest.approx(np.nanmean(level), rel=0.3)


def test_conformal_quantiles_of_pooled_residuals():
    rng = np.random.default_rng(0)
    residuals = rng.standard_normal((3, 400, 4))  # (folds, series, H)
    groups = [np.repeat([0, 1], 200)]
    residuals[:, 200:, :] *= 3.0  # the second group is three times as wide
    q = forecast_intervals.residual_quantiles(residuals, groups, (0.1, 0.5, 0.9), min_points=50)  # (n, L, H)
    assert q.shape == (400, 3, 4)
    np.testing.assert_allclose(q[0, 2], 1.2816, atol=0.15)
    np.testing.assert_allclose(q[300, 2], 3 * 1.2816, atol=0.4)
    n = 600
    level = np.ceil(0.9 * (n + 1)) / n
    expected = np.quantile(residuals[:, :200, 1].reshape(-1), level, method="inverted_cdf")
    assert q[0, 2, 1] == pytest.approx(expected)
    # a group below min_points falls back to the whole panel
    q_small = forecast_intervals.residual_quantiles(residuals, [np.r_[np.zeros(399), 1]], (0.9,), min_points=50)
    q_all = forecast_intervals.residual_quantiles(residuals, [], (0.9,), min_points=50)
    assert q_small[399, 0, 0] == pytest.approx(q_all[0, 0, 0])
    assert q_small[0, 0, 0] != pytest.approx(q_all[0, 0, 0])


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, (4, 3), elements=st.floats(0, 50)), hnp.arrays(np.float64, (4, 3, 3), elements=st.floats(-5, 5)),
       hnp.arrays(np.float64, 4, elements=st.floats(0.01, 10)))
def test_quantile_forecasts_monotone_non_negative(mean, scaled_quantiles, scale):
    q = forecast_intervals.quantile_forecasts(mean, scale, scaled_quantiles)
    assert q.shape == (3, 4, 3)
    assert np.all(q >= 0) and np.all(np.diff(q, axis=0) >= 0)


def test_random_lead_time_demand_textbook_formula():
    # mu = 10 per period, iid errors sigma = 3, E[L] = 4, sigma_L = 1, R = 1: P = 5 periods,
    # E = 5 * 10 = 50, Var = E[P] sigma^2 + mu^2 sigma_L^2 = 5 * 9 + 100 * 1 = 145
    # (Silver, Pyke & Thomas 2017, random lead time; Axsater 2015 §5.3)
    mean_path = np.full((2, 8), 10.0)
    cumulative_std = 3.0 * np.sqrt(np.arange(1, 9))[None, :].repeat(2, axis=0)
    out = demand_distribution.protection_interval_demand(mean_path, cumulative_std, np.array([4.0, 1.5]), np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    assert out["lead_time_demand_mean"][0] == pytest.approx(50.0)
    assert out["lead_time_demand_std"][0] == pytest.approx(np.sqrt(145.0))
    assert out["demand_mean"][0] == pytest.approx(10.0) and out["demand_std"][0] == pytest.approx(3.0)
    assert out["lead_time_demand_mean"][1] == pytest.approx(25.0)  # P = 2.5 periods
    # beyond the horizon the path is extended at its average and the variance grows linearly
    far = demand_distribution.protection_interval_demand(mean_path[:1], cumulative_std[:1], np.array([11.0]), np.array([0.0]), np.array([1.0]))
    assert far["lead_time_demand_mean"][0] == pytest.approx(120.0)
    assert far["lead_time_demand_std"][0] == pytest.approx(np.sqrt(12 * 9.0))


def test_family_choice():
    rng = np.random.default_rng(0)
    history = np.vstack([
        rng.poisson(2.0, 200),  # count, variance ~ mean: poisson
        rng.negative_binomial(1, 0.2, 200),  # count, over-dispersed: negbin
        rng.normal(500, 50, 200),  # fast, stable: normal
        rng.gamma(0.8, 300, 200),  # fast, skewed: gamma
    ]).astype(float)
    family = demand_distribution.choose_family(history, np.zeros_like(history, dtype=bool), np.array(["smooth"] * 4, dtype=object))
    assert list(family) == ["poisson", "negbin", "normal", "gamma"]


# ----------------------------------------------------------------------------------------------
# robust combination and selection


def test_median_combination_matches_per_series_loop():
    from invspark.stages.forecast import _combine
    from reference.forecast_reference import median_combination_loop

    rng = np.random.default_rng(11)
    means = rng.gamma(2.0, 3.0, (6, 40, 5))
    means[rng.random(means.shape) < 0.15] = np.nan  # members without a forecast
    weights = np.where(rng.random((6, 40)) < 0.5, rng.random((6, 40)), 0.0)
    weights[:, 0] = 0.0  # a series without members
    np.testing.assert_allclose(_combine(means, weights, "median"), median_combination_loop(means, weights), rtol=1e-12)


def test_median_combination_ignores_one_outlying_member():
    # three members 10, 11, 500 (a broken model): the median is 11, the weighted mean follows 500
    from invspark.stages.forecast import _combine

    means = np.array([10.0, 11.0, 500.0])[:, None, None] * np.ones((3, 1, 2))
    weights = np.ones((3, 1))
    np.testing.assert_allclose(_combine(means, weights, "median"), 11.0)
    assert _combine(means, weights, "inverse_mse")[0, 0] > 100


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (3, 4, 5), elements=st.one_of(st.just(np.nan), st.floats(0.1, 3.0))),
       st.floats(0.0, 0.2), st.booleans())
def test_choose_champion_matches_per_segment_loop(fold_scores, threshold, every_fold):
    from invspark.stages.forecast import choose_champion
    from reference.forecast_reference import choose_champion_loop

    count = (~np.isnan(fold_scores)).sum(axis=0)
    scores = np.where(count > 0, np.nansum(fold_scores, axis=0) / np.maximum(count, 1), np.nan)  # (M, S)
    np.testing.assert_array_equal(choose_champion(scores, fold_scores, 1, threshold, every_fold),
                                  choose_champion_loop(scores, fold_scores, 1, threshold, every_fold))


def test_challenger_that_loses_one_fold_does_not_replace_the_champion():
    # model 0 wins on the mean (0.8 vs 1.0) thanks to one lucky fold, loses fold 2: the champion stays
    fold_scores = np.array([[[0.4], [1.0]], [[0.9], [1.0]], [[1.1], [1.0]]])  # (F=3, M=2, S=1)
    scores = fold_scores.mean(axis=0)
    from invspark.stages.forecast import choose_champion

    assert choose_champion(scores, fold_scores, 1, 0.02, every_fold=True)[0] == 1
    assert choose_champion(scores, fold_scores, 1, 0.02, every_fold=False)[0] == 0


def test_ensemble_method_is_checked():
    with pytest.raises(ConfigError, match="ensemble_method must be one of"):
        ForecastSettings(frequency="M", horizon=H, n_periods=T, ensemble_method="mean")


def test_ensemble_is_not_scored_in_a_fold_without_an_older_fold(result):
    # origins 54, 48, 42 with horizon 6: fold 3 (origin 42) has no older fold to pick members from
    _, _, out = result
    folds = {e["fold"] for bt in out["backtest"] for e in bt if e["model"] == "ensemble"}
    assert folds == {1, 2}


def test_result_does_not_depend_on_the_order_of_the_rows(result):
    panel, _, out = result
    shuffled = np.random.default_rng(3).permutation(len(panel))
    again = forecast_bucket(panel.iloc[shuffled].reset_index(drop=True), SETTINGS)
    assert again["sku_id"].tolist() == panel["sku_id"].iloc[shuffled].tolist()  # input order kept
    expected = out.iloc[shuffled].reset_index(drop=True)
    for column in ("model", "segment", "distribution"):
        assert again[column].tolist() == expected[column].tolist()
    np.testing.assert_allclose(lists(again, "mean"), lists(expected, "mean"), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lists(again, "p90"), lists(expected, "p90"), rtol=1e-9, atol=1e-12)


def test_lumpy_non_count_series_get_an_empirical_shape_others_none():
    """Lumpy demand in non-integer sizes (kilograms) is 'empirical': its row carries the
    standardized quantiles of its forecast error over lead time + review period, non-decreasing
    and standardized (RMS 1 around the pool, so the knots span a few units); count series carry none."""
    from invspark.kernels.empirical_quantiles import SHAPE_LEVELS

    panel, _ = make_panel(n=80, n_new=0)
    rng = np.random.default_rng(5)
    sizes = rng.gamma(0.8, 7.3, (40, T + H)) * (rng.random((40, T + H)) < 0.25)  # ADI 4, CV^2 > 0.49
    panel.loc[:39, "units"] = pd.Series(list(np.round(sizes[:, :T], 3)), index=range(40))
    out = forecast_bucket(panel, SETTINGS)
    empirical = out["distribution"].to_numpy() == "empirical"
    assert empirical[:40].mean() > 0.5 and not empirical[40:].any()
    assert out["demand_shape"].isna().to_numpy().tolist() == (~empirical).tolist()
    shapes = out["demand_shape"].to_numpy(dtype=object)
    matrix = np.stack(shapes[empirical])
    assert matrix.shape[1] == len(SHAPE_LEVELS)
    assert (np.diff(matrix, axis=1) >= -1e-12).all()
    assert (matrix[:, 0] < 0).all() and (matrix[:, -1] > 0).all() and (np.abs(matrix) < 20).all()


def test_stockout_periods_widen_the_intervals_as_lower_bounds():
    """Stock covers each series' 80th percentile, so the top fifth of demand is censored at the
    stock level. Dropping those periods from the residual pools drops the large errors that
    caused them; entered as lower bounds they widen p90 and the lead-time demand spread."""
    rng = np.random.default_rng(3)
    n = 400
    rate = rng.gamma(2.0, 4.0, n)[:, None] * np.ones((1, T + H))
    demand = rng.poisson(rate).astype(float)
    cap = np.quantile(demand[:, :T], 0.8, axis=1, keepdims=True)
    censored = demand[:, :T] > cap
    units = np.where(censored, cap, demand[:, :T])
    panel = pd.DataFrame({
        "sku_id": [f"s{i}" for i in range(n)], "location_id": "l", "bucket": 0, "units": list(units),
        "censored": list(censored), "price": list(np.ones((n, T))), "promo": list(np.zeros((n, T))),
        "future_price": list(np.ones((n, H))), "future_promo": list(np.zeros((n, H))), "category": "c",
        "unit_cost": 1.0, "unit_price": 2.0, "lead_time_mean": 2.0, "lead_time_std": 0.0, "review_period": 1.0,
        "abc": "A", "category_mean_units": list(np.full((n, T), np.nan)),
    })
    settings_ = ForecastSettings(frequency="M", horizon=H, n_periods=T, models=("moving_average", "ses", "ensemble"))
    bounded = forecast_bucket(panel, settings_)
    dropped = forecast_bucket(panel.assign(units=list(np.where(censored, np.nan, units)),
                                           censored=list(np.zeros_like(censored))), settings_)

    def coverage(out):
        return (demand[:, T:] <= lists(out, "p90")).mean()

    assert coverage(bounded) > coverage(dropped) + 0.02
    assert bounded["lead_time_demand_std"].mean() > 1.05 * dropped["lead_time_demand_std"].mean()


def test_cumulative_error_skips_missing_steps():
    """A missing step (store closed) adds nothing to the cumulative error; only the steps before
    the first observed one stay missing."""
    residuals = np.array([[[np.nan, 1.0, 2.0, np.nan, 3.0], [np.nan] * 5]])  # (F=1, n=2, H=5)
    expected = np.array([[[np.nan, 1.0, 3.0, 3.0, 6.0], [np.nan] * 5]])
    np.testing.assert_array_equal(forecast_intervals.cumulative_errors(residuals), expected)


def flat_daily_panel(units, horizon, lead_time_mean):
    """A one-location panel of ``units`` ``(n, T)`` without prices, promotions or stockouts."""
    n, periods = units.shape
    return pd.DataFrame({
        "sku_id": [f"s{i}" for i in range(n)], "location_id": "l", "bucket": 0, "units": list(units),
        "censored": list(np.zeros((n, periods), dtype=bool)), "price": list(np.ones((n, periods))),
        "promo": list(np.zeros((n, periods))), "future_price": list(np.ones((n, horizon))),
        "future_promo": list(np.zeros((n, horizon))), "category": "c", "unit_cost": 1.0, "unit_price": 2.0,
        "lead_time_mean": lead_time_mean, "lead_time_std": 0.0, "review_period": 1.0, "abc": "A",
        "category_mean_units": list(np.full((n, periods), np.nan)),
    })


def test_a_closed_day_at_every_fold_origin_keeps_the_forecast_error_spread():
    """Daily data where no store trades on one weekday, and the backtest folds (a week apart) all
    open on that day: the demand over lead time + review period still carries the forecast error,
    about as much as without the closed day (it used to carry none: every cumulative error summed
    over a missing first step was dropped)."""
    rng = np.random.default_rng(5)
    n, periods, horizon = 300, 70, 7
    demand = rng.poisson(rng.gamma(3.0, 3.0, n)[:, None] * np.ones((1, periods))).astype(float)
    closed = (np.arange(periods) % 7 == 0)[None, :] & np.ones((n, 1), dtype=bool)  # the folds' first days
    settings_ = ForecastSettings(frequency="D", horizon=horizon, n_periods=periods, models=("moving_average", "ses", "ensemble"))
    assert all(origin % 7 == 0 for origin in settings_.origins)
    with_closed = forecast_bucket(flat_daily_panel(np.where(closed, np.nan, demand), horizon, 3.0), settings_)["lead_time_demand_std"]
    every_day = forecast_bucket(flat_daily_panel(demand, horizon, 3.0), settings_)["lead_time_demand_std"]
    assert (with_closed > 0).all()
    assert 0.7 < with_closed.median() / every_day.median() < 1.3


def test_no_demand_is_forecast_on_a_weekday_the_store_does_not_trade():
    """Daily history missing on every 7th day (the store's closed day) and a forecast whose first
    day is that weekday: the forecast and every quantile are 0 there, the demand over lead time +
    review period counts the trading days only."""
    rng = np.random.default_rng(6)
    n, periods, horizon = 200, 70, 7
    demand = rng.poisson(8.0, (n, periods)).astype(float)
    closed = np.arange(periods) % 7 == 0
    panel = flat_daily_panel(np.where(closed[None, :], np.nan, demand), horizon, 1.0)
    out = forecast_bucket(panel, ForecastSettings(frequency="D", horizon=horizon, n_periods=periods,
                                                  models=("moving_average", "ses", "ensemble")))
    mean = lists(out, "mean")
    assert (mean[:, 0] == 0).all() and (lists(out, "p99")[:, 0] == 0).all()
    assert (mean[:, 1:] > 0).all() and 7 < mean[:, 1:].mean() < 9  # Poisson(8) on the trading days
    np.testing.assert_allclose(out["lead_time_demand_mean"], mean[:, 1], rtol=1e-9)  # L + R = 2 days: one trades


def test_closed_periods_ahead_needs_an_established_series_missing_a_phase_every_time():
    """Season 7, four weeks of evidence: a series missing every day 0 is closed there; one missing
    three of the last four day-0s, one whose feed was down for the last four weeks and one that
    started three weeks ago are not."""
    T, m = 70, 7
    days = np.arange(T)
    regular = days % m != 0
    three_of_four = regular | (days == T - m)
    outage = days < T - 4 * m
    young = days >= T - 3 * m
    observed = np.stack([regular, three_of_four, outage, young, np.ones(T, dtype=bool)])
    closed = trading_calendar.closed_periods_ahead(observed, m, horizon=10)
    expected_first = np.array([True, False, False, False, False])
    np.testing.assert_array_equal(closed[:, 0], expected_first)
    np.testing.assert_array_equal(closed[:, 7], expected_first)
    assert not closed[:, [1, 2, 3, 4, 5, 6, 8, 9]].any()
    assert not trading_calendar.closed_periods_ahead(observed, 1, horizon=10).any()


def test_residuals_pool_by_the_group_at_each_folds_origin():
    """Series 1 was in group 0 at fold 0's origin and is in group 1 now: its fold-0 residual joins
    group 0's pool, its fold-1 residual group 1's, and it takes group 1's statistic."""
    values = np.array([[[1.0], [2.0], [10.0]], [[3.0], [4.0], [20.0]]])  # (F=2, n=3, H=1)
    fold_codes, codes = np.array([[0, 0, 1], [0, 1, 1]]), np.array([0, 1, 1])
    by_origin = forecast_intervals.residual_mean(values, [(fold_codes, codes)], min_points=1)
    np.testing.assert_allclose(by_origin[:, 0], [2.0, 34 / 3, 34 / 3])
    by_now = forecast_intervals.residual_mean(values, [codes], min_points=1)
    np.testing.assert_allclose(by_now[:, 0], [2.0, 9.0, 9.0])


def test_demand_std_history_is_the_sample_std_of_each_series_own_history():
    """The policy's dispersion floor (kernels.demand_over_interval) is the std of the demand itself,
    not of the forecast error: here the std of each uncensored history, new items included."""
    panel, _ = make_panel(n=40, seed=3)
    panel["censored"] = [np.zeros(T, dtype=bool)] * len(panel)
    out = forecast_bucket(panel, SETTINGS)
    expected = np.array([np.nanstd(units, ddof=1) for units in panel["units"]])
    np.testing.assert_allclose(out["demand_std_history"].to_numpy(dtype=float), expected, rtol=1e-12)


def test_adi_and_cv2_size_are_the_syntetos_boylan_statistics_of_the_uncensored_history():
    """The policy's compound binomial law of intermittent demand takes them: ADI = observed periods
    per period with demand, CV² (ddof 0) of the non-zero sizes."""
    panel, _ = make_panel(n=40, seed=5)
    panel["censored"] = [np.zeros(T, dtype=bool)] * len(panel)
    out = forecast_bucket(panel, SETTINGS)
    for units, adi, cv2 in zip(panel["units"], out["adi"], out["cv2_size"]):
        observed = np.asarray(units, dtype=float)
        observed = observed[~np.isnan(observed)]
        sizes = observed[observed > 0]
        assert adi == pytest.approx(observed.size / sizes.size)
        assert cv2 == pytest.approx(sizes.var() / sizes.mean() ** 2 if sizes.size >= 2 else 0.0)


def test_a_few_empirical_rows_take_their_shape_from_their_whole_group():
    """Three lumpy series in kilograms among 37 lumpy count series: those the stage finds lumpy are
    'empirical', and their error shape is pooled over the whole lumpy group, as their scale is (the
    same shape for each, over well over a hundred points), not over the empirical rows alone (a
    dozen points: a handful of distinct knots, the top one the largest of a few errors)."""
    panel, _ = make_panel(n=80, n_new=0)
    rng = np.random.default_rng(5)
    sizes = rng.gamma(0.8, 7.3, (40, T + H)) * (rng.random((40, T + H)) < 0.25)  # ADI 4, CV^2 > 0.49
    units = np.round(sizes[:, :T])
    units[:3] = np.round(sizes[:3, :T], 3)
    panel.loc[:39, "units"] = pd.Series(list(units), index=range(40))
    out = forecast_bucket(panel, SETTINGS)
    empirical = out["distribution"].to_numpy() == "empirical"
    assert empirical[:3].sum() >= 2 and not empirical[3:].any()
    shapes = np.stack(out["demand_shape"].to_numpy(dtype=object)[empirical])
    np.testing.assert_allclose(shapes, np.broadcast_to(shapes[0], shapes.shape))
    assert np.unique(shapes[0]).size >= 15


def test_statistical_models_forecast_their_categorys_seasonal_pattern():
    """make_panel's demand follows 1 + 0.3 sin(2 pi t / 12) in every category. SES alone forecasts a
    flat path (the default); on demand adjusted by its category's seasonal index (group_seasonality)
    its path follows the pattern over the horizon."""
    panel, _ = make_panel(n=120, seed=3, n_new=0)
    panel["promo"] = [np.zeros(T)] * len(panel)
    panel["future_promo"] = [np.zeros(H)] * len(panel)
    only_ses = replace(SETTINGS, models=("ses",), default_champion="ses")
    flat = lists(forecast_bucket(panel, only_ses), "mean")
    seasonal = lists(forecast_bucket(panel, replace(only_ses, group_seasonality=True)), "mean")
    np.testing.assert_allclose(flat, flat[:, :1].repeat(H, axis=1), rtol=1e-12)
    pattern = 1 + 0.3 * np.sin(2 * np.pi * np.arange(T, T + H) / 12)
    shape = seasonal / seasonal.mean(axis=1, keepdims=True)
    fast = flat[:, 0] > 2.0
    assert fast.sum() > 50
    miss = np.abs(shape[fast] - pattern / pattern.mean())  # a flat path misses by 0.073 on average
    assert miss.mean() < 0.03 and miss.max() < 0.12
