"""Tests of the business-outcome backtest (invspark.stages.outcome_backtest) and its Spark wiring."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from invspark.errors import ConfigError
from invspark.policy import compute_policies
from invspark.stages.outcome_backtest import (
    OUTCOME_SUMS_SCHEMA,
    OutcomeBacktestSettings,
    frontier_comparison,
    outcome_backtest_bucket,
    outcome_table,
    policy_levels,
    service_intervals,
    simulate_families,
    split_holdout,
)

FAST_MODELS = ("naive", "historic_average", "moving_average", "ses", "ensemble")


def _poisson_panel(n, T, H, seed, lead_time=2.0, review=1.0, mean_range=(3.0, 30.0)):
    """Stationary Poisson demand with known means: the true distribution is what the policy assumes."""
    rng = np.random.default_rng(seed)
    mean = rng.uniform(*mean_range, n)
    units = rng.poisson(mean[:, None], (n, T)).astype(float)
    return pd.DataFrame({
        "sku_id": [f"s{i:04d}" for i in range(n)], "location_id": "L1", "bucket": 0,
        "units": list(units), "censored": list(np.zeros((n, T), dtype=bool)), "price": list(np.ones((n, T))),
        "promo": list(np.zeros((n, T))), "future_price": list(np.ones((n, H))), "future_promo": list(np.zeros((n, H))),
        "category": "c", "unit_cost": 2.0, "unit_price": 3.0, "lead_time_mean": lead_time, "lead_time_std": 0.0,
        "review_period": review, "abc": "A", "category_mean_units": list(units),
        "holding_cost_rate": 0.26, "ordering_cost": 10.0, "case_pack": 1.0, "moq": 0.0,
    })


def _settings(**changes):
    values = dict(frequency="W", n_periods=117, holdout=65, horizon=13, models=FAST_MODELS)
    values.update(changes)
    return OutcomeBacktestSettings(**values)


def test_invspark_rs_lands_on_the_target_csl_per_segment_on_known_poisson_demand():
    """Generated data whose true distribution is known (stationary Poisson): forecast at the origin,
    invspark's RS policies, 65 simulated weeks with backorders; the achieved CSL of every segment with
    at least 100 series must land within +-1.5 pp of the target. (At a 0.80 target the achieved CSL
    overshoots by 1.4-2.6 pp over seeds 1-3: the forecast's lead-time demand std is ~18% above the
    true Poisson std (median ratio 1.18 on seed 1); the retail range 0.90-0.98 is asserted.)"""
    settings = _settings(service_targets=(0.9, 0.95, 0.98))
    table = outcome_table(outcome_backtest_bucket(_poisson_panel(800, 117, 13, seed=1), settings), 52.0)
    own = table[(table["policy"] == "invspark") & (table["n_series"] >= 100)]
    assert len(own) >= 3
    gaps = (own["csl"] - own["service_level_target"]).abs()
    assert (gaps <= 0.015).all(), own[["segment", "service_level_target", "csl"]]


def test_policy_levels_follow_each_family_formula():
    panel = _poisson_panel(30, 60, 13, seed=2, lead_time=3.0, review=2.0)
    settings = OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=13, models=FAST_MODELS,
                                       service_targets=(0.9,), static_cover_weeks=(2.0,), static_window_weeks=4.0)
    truncated, _, _ = split_holdout(panel, settings)
    from invspark.stages.forecast import forecast_bucket
    forecast = forecast_bucket(truncated, settings.forecast_settings())
    levels = policy_levels(forecast, truncated, settings)
    units = np.stack(truncated["units"].to_numpy())
    average = units[:, -4:].mean(axis=1)
    static = levels[levels["policy"] == "static_cover"]
    np.testing.assert_allclose(static["reorder_point"], 2.0 * average, rtol=1e-12)
    np.testing.assert_allclose(static["order_up_to"], 2.0 * average + 2.0 * average, rtol=1e-12)  # + R = 2 periods
    mae = levels[levels["policy"] == "mae_normal"]["order_up_to"].to_numpy()
    mean = forecast["demand_mean"].to_numpy()
    implied_mae = (mae - mean * 5.0) / (stats.norm.ppf(0.9) * np.sqrt(5.0))  # S = mu (L + R) + z MAE sqrt(L + R)
    assert (implied_mae > 0).all()
    own = levels[levels["policy"] == "invspark"]
    assert (own["policy_type"] == "RS").all() and np.isfinite(own["order_up_to"]).all()


def test_invspark_targets_can_be_fill_rates():
    """With ``service_level_type="fill_rate"`` (the run's ``policy.service_level_type``) invspark's
    order-up-to levels are :func:`compute_policies`' fill-rate levels; the baselines do not change."""
    from invspark.stages.forecast import forecast_bucket

    panel = _poisson_panel(30, 60, 13, seed=2, lead_time=3.0, review=2.0)
    csl = OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=13, models=FAST_MODELS,
                                  service_targets=(0.9,), static_cover_weeks=(2.0,))
    fill = replace(csl, service_level_type="fill_rate")
    truncated, _, _ = split_holdout(panel, csl)
    forecast = forecast_bucket(truncated, csl.forecast_settings())
    by_csl, by_fill = policy_levels(forecast, truncated, csl), policy_levels(forecast, truncated, fill)
    expected = compute_policies(pd.DataFrame({
        "demand_mean": forecast["demand_mean"], "demand_std": forecast["demand_std"],
        "distribution": forecast["distribution"], "demand_shape": forecast["demand_shape"],
        "lead_time_mean": 3.0, "lead_time_std": 0.0, "review_period": 2.0, "policy": "RS",
        "service_level_type": "fill_rate", "service_level_target": 0.9,
    }))
    own = by_fill[by_fill["policy"] == "invspark"]
    np.testing.assert_allclose(own["order_up_to"].to_numpy(), expected["order_up_to"].to_numpy())
    assert not np.allclose(own["order_up_to"].to_numpy(), by_csl.loc[by_csl["policy"] == "invspark", "order_up_to"].to_numpy())
    others = by_fill["policy"] != "invspark"
    pd.testing.assert_frame_equal(by_fill[others], by_csl[by_csl["policy"] != "invspark"])


def test_mae_normal_uses_the_chosen_models_backtest_mae():
    panel = _poisson_panel(20, 60, 13, seed=3)
    settings = OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=13, models=FAST_MODELS, service_targets=(0.5,))
    from invspark.stages.forecast import forecast_bucket
    from invspark.stages.outcome_backtest import chosen_model_mae
    truncated, _, _ = split_holdout(panel, settings)
    forecast = forecast_bucket(truncated, settings.forecast_settings())
    mae = chosen_model_mae(forecast)
    # obvious loop over the backtest entries of each row
    expected = []
    for model, entries in zip(forecast["model"], forecast["backtest"]):
        chosen = [e for e in entries if e["model"] == model]
        expected.append(sum(e["abs_error"] for e in chosen) / sum(e["n_points"] for e in chosen))
    np.testing.assert_allclose(mae, expected, rtol=1e-12)
    levels = policy_levels(forecast, truncated, settings)
    # at z = 0 the MAE term vanishes: S = mu (L + R)
    np.testing.assert_allclose(levels[levels["policy"] == "mae_normal"]["order_up_to"], forecast["demand_mean"] * 3.0)


def test_holdout_split_and_censored_demand_is_the_observed_units():
    panel = _poisson_panel(5, 40, 6, seed=4)
    units = np.stack(panel["units"].to_numpy())
    units[0, -3] = np.nan  # a closed period in the holdout: no demand
    censored = np.zeros_like(units, dtype=bool)
    censored[1, -2] = True  # a stockout period: demand is at least the observed units
    panel["units"], panel["censored"] = list(units), list(censored)
    settings = OutcomeBacktestSettings(frequency="W", n_periods=40, holdout=6, models=FAST_MODELS,
                                       service_targets=(0.9,), static_cover_weeks=(3.0,))
    truncated, actual, held_censored = split_holdout(panel, settings)
    assert len(truncated["units"].iloc[0]) == 34 and actual.shape == (5, 6)
    assert held_censored[1, -2] and held_censored.sum() == 1
    per_series, skipped = simulate_families(panel, settings)
    assert skipped == 0
    assert set(per_series["policy"]) == {"invspark", "static_cover", "mae_normal"}
    demand = per_series.groupby("sku_id")["demand"].first()
    np.testing.assert_allclose(demand.to_numpy(), np.nansum(actual, axis=1))
    assert (per_series.groupby("sku_id")["demand"].nunique() == 1).all()  # every family sees the same demand


def test_forecast_shift_and_trailing_average_match_obvious_loops():
    from invspark.stages.outcome_backtest import forecast_shift, trailing_average

    rng = np.random.default_rng(8)
    path = rng.uniform(0, 10, (4, 5))
    protection = np.array([1.0, 2.5, 3.0, 7.0])
    forecast = pd.DataFrame({"mean": list(path)})
    got = forecast_shift(forecast, protection, holdout=6)

    def expected_demand(i, start, length):  # period by period, the path's average beyond its end
        total, t = 0.0, start
        while length > 1e-12:
            step = min(1.0, length)
            total += step * (path[i, t] if t < path.shape[1] else path[i].mean())
            length -= step
            t += 1
        return total

    for i in range(4):
        for t in range(6):
            assert got[i, t] == pytest.approx(expected_demand(i, t, protection[i]) - expected_demand(i, 0, protection[i]))

    units = rng.poisson(3.0, (3, 12)).astype(float)
    units[0, 5] = np.nan
    units[2, :] = np.nan
    got = trailing_average(units, origin=8, holdout=4, window=3)
    for i in range(3):
        for t in range(4):
            window = units[i, 8 + t - 3:8 + t]
            want = np.nanmean(window) if (~np.isnan(window)).any() else np.nan
            np.testing.assert_allclose(got[i, t], want, equal_nan=True)


def test_output_schema_and_empty_bucket():
    empty = outcome_backtest_bucket(_poisson_panel(3, 40, 6, seed=5).iloc[:0], OutcomeBacktestSettings(
        frequency="W", n_periods=40, holdout=6, models=FAST_MODELS))
    assert list(empty.columns) == OUTCOME_SUMS_SCHEMA.names and empty.empty


def test_frontier_comparison_interpolates_and_refuses_to_extrapolate():
    table = pd.DataFrame({
        "policy": ["invspark", "invspark", "static_cover", "static_cover", "static_cover"],
        "segment": "AX", "service_level_target": [0.9, 0.99, 1.0, 2.0, 3.0], "n_series": 10.0,
        "fill_rate": [0.95, 0.999, 0.90, 0.96, 0.99], "avg_on_hand": [8.0, 30.0, 6.0, 12.0, 18.0],
        "stockout_periods": [2.0, 0.1, 6.0, 4.0, 1.0],
    })
    out = frontier_comparison(table, baselines=("static_cover",))
    first = out.iloc[0]
    # baseline stock at fill 0.95: 6 + (0.05 / 0.06) * 6 = 11; at stock 8: 6 - (2 / 6) * 2 = 5.333
    assert first["baseline_avg_on_hand"] == pytest.approx(11.0)
    assert first["inventory_change"] == pytest.approx(8.0 / 11.0 - 1.0)
    assert first["baseline_stockout_periods"] == pytest.approx(6.0 - 2.0 / 3.0)
    assert first["stockout_change"] == pytest.approx(2.0 / (16.0 / 3.0) - 1.0)
    assert np.isnan(out.iloc[1]["inventory_change"]) and np.isnan(out.iloc[1]["stockout_change"])  # outside the sweep


def test_settings_reject_bad_values():
    with pytest.raises(ConfigError, match="holdout must be an integer"):
        OutcomeBacktestSettings(frequency="W", n_periods=20, holdout=20)
    with pytest.raises(ConfigError, match="service_targets must be service levels"):
        OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=10, service_targets=(0.9, 1.0))
    with pytest.raises(ConfigError, match="service_level_type must be one of"):
        OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=10, service_level_type="p2")
    with pytest.raises(ConfigError, match="too short"):
        OutcomeBacktestSettings(frequency="W", n_periods=40, holdout=13)


def test_spark_wiring_equals_the_pandas_path(spark):
    """applyInArrow per bucket + native sums and ratios give the rows of the pandas path.
    (The whole stage, `stage_simulate.run` after ingest on the generated `small_dataset`, was run
    once by hand: it takes minutes on the shared machine, too slow for this file.)"""
    from invspark.spark import stage_simulate

    panel = _poisson_panel(60, 60, 13, seed=6)
    panel["bucket"] = np.arange(60) % 3
    panel["lead_time_std"] = 0.5
    settings = OutcomeBacktestSettings(frequency="W", n_periods=60, holdout=13, models=FAST_MODELS,
                                       service_targets=(0.9, 0.95), static_cover_weeks=(2.0, 4.0))
    frame = spark.createDataFrame(panel.assign(
        **{c: panel[c].map(list) for c in ("units", "censored", "price", "promo", "future_price", "future_promo",
                                           "category_mean_units")}))
    written = stage_simulate.policy_simulation(stage_simulate.bucket_sums(frame, settings, 3), 52.0).toPandas()
    sums = pd.concat([outcome_backtest_bucket(group.reset_index(drop=True), settings)
                      for _, group in panel.groupby("bucket")], ignore_index=True)
    expected = outcome_table(sums, 52.0)
    keys = ["policy", "segment", "service_level_target"]
    merged = written.merge(expected, on=keys, suffixes=("", "_pandas"), validate="one_to_one")
    assert len(merged) == len(expected) == len(written) > 0
    for column in ("fill_rate", "csl", "avg_on_hand", "stockout_periods", "holding_cost", "inventory_turns"):
        np.testing.assert_allclose(merged[column].astype(float), merged[f"{column}_pandas"].astype(float),
                                   rtol=1e-9, equal_nan=True, err_msg=column)


def test_reforecasting_splices_each_forecasts_levels_until_the_next():
    """reforecast_every = 4 over a 10-period holdout: forecasts at offsets 0, 4 and 8, each made
    from the history up to it; periods 0-3 keep the origin's levels exactly, later periods take the
    newer forecasts' levels (the history they saw differs, so the levels differ)."""
    from invspark.stages.outcome_backtest import planned_paths

    panel = _poisson_panel(40, 70, 10, seed=4)
    once = OutcomeBacktestSettings(frequency="W", n_periods=70, holdout=10, models=FAST_MODELS, service_targets=(0.9,),
                                   static_cover_weeks=(2.0,))
    rolling = OutcomeBacktestSettings(frequency="W", n_periods=70, holdout=10, models=FAST_MODELS,
                                      service_targets=(0.9,), static_cover_weeks=(2.0,), reforecast_every=4)
    assert list(rolling.forecast_offsets) == [0, 4, 8]
    truncated, _, _ = split_holdout(panel, rolling, offset=4)
    assert len(truncated["units"].iloc[0]) == 64 and len(truncated["future_price"].iloc[0]) == 10
    _, levels, s_once, S_once, _ = planned_paths(panel, once)
    _, levels_rolling, s_roll, S_roll, usable = planned_paths(panel, rolling)
    assert S_roll.shape == S_once.shape == (len(levels), 10) and usable.all()
    np.testing.assert_allclose(S_roll[:, :4], S_once[:, :4])
    forecast_driven = levels["policy"].isin(["invspark", "mae_normal"]).to_numpy()
    assert not np.allclose(S_roll[forecast_driven, 4:], S_once[forecast_driven, 4:])
    static = ~forecast_driven  # static cover ignores forecasts: the same path either way
    np.testing.assert_allclose(S_roll[static], S_once[static])
    with pytest.raises(ConfigError, match="reforecast_every"):
        OutcomeBacktestSettings(frequency="W", n_periods=70, holdout=10, reforecast_every=0)


def test_service_intervals_are_ratios_of_sums_with_a_series_bootstrap_interval():
    rng = np.random.default_rng(0)
    n = 400
    cycles = rng.integers(5, 20, n).astype(float)
    failed = rng.binomial(cycles.astype(int), 0.1).astype(float)
    per_series = pd.DataFrame({
        "policy": "invspark", "segment": np.where(np.arange(n) < 300, "big", "small"), "service_level_target": 0.9,
        "cycles": cycles, "cycles_with_stockout": failed, "filled": 9.0, "demand": 10.0,
    })
    per_series = pd.concat([per_series, per_series.assign(policy="static_cover")], ignore_index=True)
    cells = service_intervals(per_series, measure="csl").set_index("segment")
    big = np.arange(n) < 300
    assert cells.loc["big", "n_series"] == 300
    assert cells.loc["big", "achieved"] == pytest.approx(1 - failed[big].sum() / cycles[big].sum())
    for segment in ("big", "small"):
        assert cells.loc[segment, "lower"] < cells.loc[segment, "achieved"] < cells.loc[segment, "upper"]
    # the binomial standard error of the CSL is the scale of the interval; fewer series, wider interval
    width = cells["upper"] - cells["lower"]
    assert width["small"] > width["big"]
    assert width["big"] == pytest.approx(2 * 1.96 * np.sqrt(0.09 / cycles[big].sum()), rel=0.35)
    fill = service_intervals(per_series, measure="fill_rate").set_index("segment")
    assert (fill["achieved"] == 0.9).all() and (fill["upper"] - fill["lower"] < 1e-12).all()  # identical series


def test_reference_family_replays_its_order_up_to_paths_on_the_same_demand_and_lead_times():
    """Given invspark's own order-up-to paths, the ``reference`` family's outcomes equal invspark's
    row for row; raised by one unit everywhere, it holds more stock and never fails more cycles."""
    from invspark.stages.outcome_backtest import planned_paths

    panel = _poisson_panel(60, 70, 10, seed=5, lead_time=1.0, review=2.0)
    settings = OutcomeBacktestSettings(frequency="W", n_periods=70, holdout=10, models=FAST_MODELS,
                                       service_targets=(0.8, 0.95), static_cover_weeks=(2.0,))
    _, levels, _, order_up_to, _ = planned_paths(panel, settings)
    own = (levels["policy"] == "invspark").to_numpy()
    paths = order_up_to[own].reshape(2, len(panel), 10)  # target-major, then series
    columns = ["service_level_target", "sku_id", "cycles", "cycles_with_stockout", "filled", "on_hand_sum"]
    per_series, skipped = simulate_families(panel, settings, seed=3, reference_order_up_to=paths)
    assert skipped == 0 and (per_series["policy"] == "reference").sum() == 2 * len(panel)
    pd.testing.assert_frame_equal(per_series.loc[per_series["policy"] == "reference", columns].reset_index(drop=True),
                                  per_series.loc[per_series["policy"] == "invspark", columns].reset_index(drop=True))
    raised, _ = simulate_families(panel, settings, seed=3, reference_order_up_to=paths + 1.0)
    base = per_series[per_series["policy"] == "reference"].reset_index(drop=True)
    more = raised[raised["policy"] == "reference"].reset_index(drop=True)
    assert (more["on_hand_sum"] >= base["on_hand_sum"]).all() and (more["on_hand_sum"] > base["on_hand_sum"]).any()
    assert (more["cycles_with_stockout"] <= base["cycles_with_stockout"]).all()


def test_pooled_true_law_lands_on_the_target_where_whole_units_overshoot_it():
    """Slow Poisson demand (0.2-2 units a week; L = R = 1): RS at the true law's whole-unit quantile
    overshoots a 0.80 / 0.90 CSL target by several points (a series with P(D(2) = 0) = 0.82 holds
    nothing and delivers 0.82 at 0.80). Pooled per segment (kernels.pooled_service, with the exact
    Poisson cdf), the same law lands within +-1.5 pp of each target, at less stock."""
    n, T, H = 600, 100, 40
    panel = _poisson_panel(n, T, H, seed=4, lead_time=1.0, review=1.0, mean_range=(0.2, 2.0))
    mean = np.random.default_rng(4).uniform(0.2, 2.0, n)  # the panel's true weekly means
    targets = (0.8, 0.9)
    interval_mean = np.broadcast_to(2.0 * mean[None, :, None], (2, n, H))
    quantile = stats.poisson.ppf(np.asarray(targets)[:, None, None], interval_mean)  # (k, n, H)
    service = (stats.poisson.cdf(quantile, interval_mean), stats.poisson.cdf(quantile - 1.0, interval_mean),
               np.ones((2, n, H)))  # P(D <= S), P(D <= S - 1), one cycle per period
    results = _pooled_reference_outcomes(panel, T, H, targets, "csl", quantile, service)
    overshoot = results["series"]["csl"] - np.asarray(targets)
    pooled_gap = results["segment"]["csl"] - np.asarray(targets)
    assert (overshoot > 0.03).all(), overshoot
    assert (pooled_gap.abs() <= 0.015).all(), pooled_gap
    assert (results["segment"]["avg_on_hand"] < results["series"]["avg_on_hand"]).all()


def _pooled_reference_outcomes(panel, T, H, targets, service_level_type, order_up_to, service):
    """The reference family's pooled outcomes (all series one segment), per target, under each scope."""
    base = dict(frequency="W", n_periods=T, holdout=H, horizon=13, models=FAST_MODELS, service_targets=targets,
                static_cover_weeks=(2.0,), apply_order_rounding=False, warmup=2, service_level_type=service_level_type)
    results = {}
    for scope in ("series", "segment"):
        settings = OutcomeBacktestSettings(service_target_scope=scope, **base)
        per_series, _ = simulate_families(panel, settings, seed=9, reference_order_up_to=order_up_to,
                                          reference_service=service)
        own = per_series[per_series["policy"] == "reference"]
        results[scope] = outcome_table(own.assign(segment="all"), 52.0).set_index("service_level_target")
    return results


def test_pooled_true_law_lands_on_a_fill_rate_target_where_whole_units_overshoot_it():
    """The same slow Poisson demand at fill-rate targets: the whole-unit level of the (R,S) backorder
    fill rate beta(S) = 1 - (E[(X_2 - S)^+] - E[(X_1 - S)^+]) / mu (SPP 4th ed. §6.9; X_k the demand
    of k weeks, L = R = 1) overshoots a 0.80 / 0.90 target; pooled per segment by units short
    (kernels.pooled_service, weight = the mean demand), the unit-weighted fill rate lands within
    +-1.5 pp of each target, at less stock."""
    n, T, H = 600, 100, 40
    panel = _poisson_panel(n, T, H, seed=4, lead_time=1.0, review=1.0, mean_range=(0.2, 2.0))
    mean = np.random.default_rng(4).uniform(0.2, 2.0, n)  # the panel's true weekly means
    targets = (0.8, 0.9)
    support = np.arange(60.0)

    def loss(weeks):  # E[(X_weeks - S)^+] at S = 0..59, (n, 60)
        pmf = stats.poisson.pmf(support[None, :], weeks * mean[:, None])  # (n, 60): x = 0..59
        return pmf @ np.maximum(support[:, None] - support[None, :], 0.0)

    beta = 1.0 - (loss(2.0) - loss(1.0)) / mean[:, None]  # (n, 60): beta at S = 0..59
    level = np.stack([(beta < target).sum(axis=1).astype(float) for target in targets])  # (k, n): smallest S
    rows = np.arange(n)[None, :]
    at, below = beta[rows, level.astype(int)], np.where(level > 0, beta[rows, np.maximum(level.astype(int) - 1, 0)], 0.0)
    expand = lambda a: np.repeat(a[:, :, None], H, axis=2)  # noqa: E731 - the law is the same every week
    service = (expand(at), expand(below), np.broadcast_to(mean[None, :, None], (2, n, H)))
    results = _pooled_reference_outcomes(panel, T, H, targets, "fill_rate", expand(level), service)
    overshoot = results["series"]["fill_rate"] - np.asarray(targets)
    pooled_gap = results["segment"]["fill_rate"] - np.asarray(targets)
    assert (overshoot > 0.02).all(), overshoot
    assert (pooled_gap.abs() <= 0.015).all(), pooled_gap
    assert (results["segment"]["avg_on_hand"] < results["series"]["avg_on_hand"]).all()
