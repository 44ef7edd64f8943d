"""The synthetic data generator: contract tables, determinism, and the retail features it promises."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from invspark.errors import ConfigError
from invspark.kernels import synthetic as syn
from reference.synthetic_reference import adi_cv2_loop, simulate_order_up_to_loop

# Python UDF workers must run this interpreter (it has numpy/pyarrow); the session reads this
# when it is created, which happens after collection.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

# Contract columns and Spark SQL types of shared/CONTRACTS.md.
CONTRACT = {
    "sales": {"sku_id": "string", "location_id": "string", "date": "date", "units": "double",
              "price": "double", "promo": "int", "on_hand": "double", "revenue": "double"},
    "items": {"sku_id": "string", "category": "string", "subcategory": "string",
              "unit_cost": "double", "unit_price": "double", "case_pack": "int", "moq": "double",
              "holding_cost_rate": "double", "ordering_cost": "double",
              "service_level_target": "double"},
    "locations": {"location_id": "string", "location_type": "string", "source_id": "string",
                  "review_period": "double", "capacity_units": "double"},
    "inventory": {"sku_id": "string", "location_id": "string", "on_hand": "double",
                  "on_order": "double", "backorders": "double"},
    "receipts": {"sku_id": "string", "location_id": "string", "order_date": "date",
                 "receipt_date": "date", "source_id": "string", "qty_ordered": "double",
                 "qty_received": "double"},
    "dc_supply": {"sku_id": "string", "dc_id": "string", "available_units": "double"},
    "promotions": {"sku_id": "string", "location_id": "string", "date": "date", "promo": "int",
                   "price": "double"},
}
SEED = 7


# ----------------------------------------------------------------------------------------------
# Kernel tests (numpy only, fast)
# ----------------------------------------------------------------------------------------------


def test_order_up_to_simulation_matches_per_series_loop():
    rng = np.random.default_rng(0)
    n, T = 40, 30
    demand = rng.poisson(3.0, (n, T)).astype(float) * (rng.random((n, T)) < 0.7)
    demand[0] = 0.0  # a series without demand
    order_up_to = rng.uniform(0, 15, (n, T))
    order_up_to[1] = 0.0  # never stocked: all stockouts
    order_days = rng.random((n, T)) < 0.6
    lead = rng.integers(1, 4, (n, T))
    fill = np.where(rng.random((n, T)) < 0.8, 1.0, rng.uniform(0.5, 1, (n, T)))
    case_pack = rng.choice([1.0, 6.0, 12.0], n)
    start = rng.integers(0, T + 3, n)  # some series start after the history
    got = syn.simulate_order_up_to(demand, order_up_to, order_days, lead, fill, case_pack, start)
    want = simulate_order_up_to_loop(demand, order_up_to, order_days, lead, fill, case_pack, start)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-9, err_msg=key)
    assert (got["units"] <= demand).all() and (got["on_hand"] >= 0).all()


def test_adi_cv2_matches_per_series_loop_including_empty_and_nan_series():
    rng = np.random.default_rng(1)
    demand = rng.poisson(2.0, (30, 20)).astype(float) * (rng.random((30, 20)) < 0.5)
    demand[0] = 0.0
    demand[1] = np.nan
    demand[2, :5] = np.nan
    demand[3] = 4.0  # constant: CV² 0
    adi, cv2 = syn.adi_cv2(demand)
    want_adi, want_cv2 = adi_cv2_loop(demand)
    np.testing.assert_allclose(adi, want_adi, rtol=1e-12)
    np.testing.assert_allclose(cv2, want_cv2, rtol=1e-12, atol=1e-15)


def test_syntetos_boylan_cutoffs_classify_textbook_patterns():
    # ADI = 6/6 = 1, CV² = 0: smooth.  ADI = 6/2 = 3, sizes (5, 5): intermittent.
    # sizes (1, 9, 1, 9, 1, 9): CV² = 16/25 = 0.64 erratic.  ADI 3 with sizes (1, 9): lumpy.
    demand = np.array([
        [5, 5, 5, 5, 5, 5],
        [5, 0, 0, 5, 0, 0],
        [1, 9, 1, 9, 1, 9],
        [1, 0, 0, 9, 0, 0],
    ], dtype=float)
    assert list(syn.classify_demand(demand)) == ["smooth", "intermittent", "erratic", "lumpy"]


def test_negative_binomial_sizes_have_the_requested_cv2():
    size_mean = np.array([4.0, 10.0, 3.0, 2.0])
    size_cv2 = np.array([0.3, 1.5, 0.9, 0.01])  # the last is below the Poisson floor
    r, achieved = syn.nb_dispersion_for(size_mean, size_cv2)
    excess = size_mean - 1
    variance = excess + excess**2 / r
    np.testing.assert_allclose(variance / size_mean**2, achieved, rtol=1e-9)
    np.testing.assert_allclose(achieved[:3], size_cv2[:3])
    assert achieved[3] == pytest.approx(1.02 * excess[3] / size_mean[3] ** 2)


def test_generated_demand_class_mix_matches_intent_by_adi_and_cv2():
    plan = syn.GeneratorPlan(n_series=6000, n_periods=104, frequency="W", seed=3, block_size=3000)
    measured, intended = [], []
    for block_id in range(plan.n_blocks):
        block = syn.generate_series_block(plan, block_id)
        history = np.where(block.alive[:, :104], block.demand[:, :104], np.nan)
        measured.append(syn.classify_demand(history))
        intended.append(np.asarray(syn.DEMAND_CLASSES)[block.demand_class])
    measured, intended = np.concatenate(measured), np.concatenate(intended)
    for name, share in zip(syn.DEMAND_CLASSES, syn.DEMAND_CLASS_MIX):
        assert abs((measured == name).mean() - share) < 0.04, name
    assert (measured == intended).mean() > 0.9


def test_daily_demand_has_a_day_of_week_profile_and_yearly_season():
    plan = syn.GeneratorPlan(n_series=500, n_periods=728, frequency="D", seed=5, block_size=500)
    block = syn.generate_series_block(plan, 0)
    days = plan.period_days(728)
    weekday = (days + 3) % 7  # 0 = Monday
    history = block.demand[:, :728]
    by_weekday = np.array([history[:, weekday == d].mean() for d in range(7)])
    assert by_weekday[5] / by_weekday[1] > 1.3  # Saturday vs Tuesday (profile 1.35 vs 0.80)
    assert stats.kruskal(*[history[:, weekday == d].sum(axis=0) for d in range(7)]).pvalue < 1e-6


def test_yearly_season_peaks_in_summer_for_beverages_and_trends_are_linear():
    plan = syn.GeneratorPlan(n_series=2000, n_periods=156, frequency="W", seed=9)
    block = syn.generate_series_block(plan, 0)
    category = syn.item_attributes(plan, block.sku)["category"]
    days = plan.period_days(156).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    drinks = block.expected_demand[category == "beverages"][:, :156]
    assert drinks[:, month == 7].mean() > 1.2 * drinks[:, month == 1].mean()
    trending = np.abs(block.trend_change) > 0.3
    assert 0.1 < trending.mean() < 0.35


def test_period_grids_daily_weekly_monthly_and_run_date():
    monthly = syn.GeneratorPlan(n_series=10, n_periods=14, frequency="M", start_date=dt.date(2021, 11, 1))
    dates = monthly.period_days(14).astype("datetime64[D]").astype(object)
    assert all(d.day == 1 for d in dates) and dates[2] == dt.date(2022, 1, 1)
    assert monthly.run_date == dt.date(2023, 1, 1)
    weekly = syn.GeneratorPlan(n_series=10, n_periods=3, frequency="W", start_date=dt.date(2022, 1, 5))
    assert weekly.run_date == dt.date(2022, 1, 26)  # a Wednesday, like the start
    daily = syn.GeneratorPlan(n_series=10, n_periods=365, frequency="D")
    assert daily.run_date == daily.start_date + dt.timedelta(days=365)
    assert (daily.n_planned, weekly.n_planned, monthly.n_planned) == (28, 13, 13)


def test_hashed_uniform_is_deterministic_and_uniform():
    keys = np.arange(20_000)
    u = syn.hashed_uniform(11, 1, keys)
    np.testing.assert_array_equal(u, syn.hashed_uniform(11, 1, keys))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert np.corrcoef(u, syn.hashed_uniform(11, 2, keys))[0, 1] < 0.05
    assert not np.array_equal(u, syn.hashed_uniform(12, 1, keys))


@settings(max_examples=40, deadline=None)
@given(n_series=st.integers(1, 30_000))
def test_network_pairs_are_unique_and_every_sku_is_sold(n_series):
    plan = syn.GeneratorPlan(n_series=n_series, n_periods=10)
    net = syn.series_network(plan, np.arange(n_series))
    pairs = net["sku"] * plan.n_stores + net["store"]
    assert np.unique(pairs).size == n_series
    assert np.unique(net["sku"]).size == plan.n_skus
    assert np.bincount(net["store"], minlength=plan.n_stores).tolist() == syn.series_at_store(
        plan, np.arange(plan.n_stores)).tolist()
    if n_series >= 100:
        assert 2 <= plan.n_stores and plan.n_dcs >= 1 and plan.n_stores / plan.n_dcs <= 50
        assert n_series < plan.n_skus * plan.n_stores  # not every SKU at every store
    carried, n_carrying = syn.dc_carries(plan, net["sku"], net["dc"])
    assert carried.all()


def test_bad_arguments_raise_config_errors_naming_the_value(tmp_path):
    from invspark.spark.generate import generate_dataset

    with pytest.raises(ConfigError, match=r"frequency must be one of .* got 'Q'"):
        syn.GeneratorPlan(n_series=10, n_periods=10, frequency="Q")
    with pytest.raises(ConfigError, match=r"first day of a month .* got 2022-01-03; use 2022-01-01"):
        syn.GeneratorPlan(n_series=10, n_periods=10, frequency="M", start_date=dt.date(2022, 1, 3))
    with pytest.raises(ConfigError, match=r"n_series must be an integer >= 1, got 0"):
        syn.GeneratorPlan(n_series=0, n_periods=10)
    with pytest.raises(ConfigError, match=r"bad_row_rate must be a fraction in \[0, 0.5\], got 0.9"):
        generate_dataset(None, str(tmp_path), 10, 10, bad_row_rate=0.9)  # checked before Spark
    with pytest.raises(ConfigError, match=r"n_partitions must be an integer >= 1 or None, got 0"):
        generate_dataset(None, str(tmp_path), 10, 10, n_partitions=0)


# ----------------------------------------------------------------------------------------------
# Spark: one generated dataset shared by the tests below
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weekly(spark, tmp_path_factory):
    from invspark.spark.generate import generate_dataset

    out = tmp_path_factory.mktemp("weekly")
    ds = generate_dataset(spark, str(out), n_series=300, n_periods=104, frequency="W", seed=SEED,
                          bad_row_rate=0.02, block_size=100)
    paths = {**ds.paths, "truth": ds.truth}
    schemas = {name: spark.read.parquet(path).schema for name, path in paths.items()}
    frames = {name: pd.read_parquet(path) for name, path in paths.items()}  # no Spark job
    return ds, schemas, frames


def _good_sales(frames):
    sales = frames["sales"]
    good = sales[sales.sku_id.notna() & sales.date.notna() & (sales.units >= 0)]
    return good.drop_duplicates()


@pytest.mark.spark
def test_every_table_has_the_contract_columns_and_types(weekly):
    ds, tables, frames = weekly
    for name, columns in CONTRACT.items():
        got = {f.name: f.dataType.simpleString() for f in tables[name].fields}
        assert got == columns, name
        assert len(frames[name]) > 0, name
    assert (ds.n_series, ds.n_stores, ds.n_dcs) == (300, 9, 1)
    assert len(frames["inventory"]) == len(frames["truth"]) == 300
    assert frames["items"].sku_id.is_unique and len(frames["items"]) == ds.n_skus


@pytest.mark.spark
def test_dates_are_on_the_weekly_grid_and_history_ends_before_run_date(weekly):
    ds, _, frames = weekly
    dates = pd.to_datetime(_good_sales(frames).date)
    offsets = (dates - pd.Timestamp(ds.history_start)).dt.days
    assert (offsets % 7 == 0).all() and offsets.min() == 0
    assert dates.max() == pd.Timestamp(ds.run_date) - pd.Timedelta(days=7)
    assert ds.run_date == ds.history_start + dt.timedelta(weeks=104)


@pytest.mark.spark
def test_network_stores_supplied_by_dcs_and_items_priced_above_cost(weekly):
    _, _, frames = weekly
    locations, items = frames["locations"], frames["items"]
    stores = locations[locations.location_type == "store"]
    dcs = locations[locations.location_type == "dc"]
    assert stores.source_id.isin(dcs.location_id).all() and dcs.source_id.isna().all()
    assert set(stores.review_period) <= {1.0, 2.0} and (locations.capacity_units > 0).all()
    assert (items.unit_price > items.unit_cost).all()
    assert set(items.case_pack) <= set(syn.CASE_PACKS) and items.category.nunique() >= 4
    assert items.service_level_target.isna().mean() > 0.6 and items.service_level_target.notna().any()
    assert (items.moq == 0).mean() > 0.6 and items.holding_cost_rate.between(0.2, 0.3).all()
    inventory = frames["inventory"]
    assert (inventory.backorders == 0).mean() > 0.8 and (inventory.on_order > 0).any()
    assert frames["sales"].location_id.dropna().isin(stores.location_id).all()


@pytest.mark.spark
def test_same_seed_gives_identical_sales_whatever_the_partitioning(spark, weekly):
    from invspark.spark.generate import series_table

    ds, _, frames = weekly
    plan = syn.GeneratorPlan(n_series=300, n_periods=104, frequency="W", seed=SEED, block_size=100)
    keys = ["sku_id", "location_id", "date", "units", "on_hand"]

    def canonical(frame):
        return frame.sort_values(keys, na_position="first").reset_index(drop=True)

    one_task = series_table(spark, plan, "sales", bad_row_rate=0.02, n_partitions=1).toPandas()
    pd.testing.assert_frame_equal(canonical(one_task), canonical(frames["sales"]))
    other = dataclasses.replace(plan, seed=SEED + 1)
    other_sales = series_table(spark, other, "sales", bad_row_rate=0.02, n_partitions=3).toPandas()
    assert not canonical(other_sales).equals(canonical(frames["sales"]))


@pytest.mark.spark
def test_daily_sales_through_spark_show_the_weekday_profile(spark):
    from invspark.spark.generate import series_table

    plan = syn.GeneratorPlan(n_series=200, n_periods=84, frequency="D", seed=2, block_size=100)
    sales = series_table(spark, plan, "sales").toPandas()
    dates = pd.to_datetime(sales.date)
    assert dates.min() == pd.Timestamp(plan.start_date) and dates.max() < pd.Timestamp(plan.run_date)
    assert dates.nunique() >= 80  # every day but closures (all stores close on 25 December)
    weekday_total = sales.groupby(dates.dt.dayofweek).units.sum()  # 12 of each weekday
    assert weekday_total[5] > 1.3 * weekday_total[1]  # Saturday vs Tuesday
    assert (sales.loc[sales.units == 0, "on_hand"] == 0).all()


@pytest.mark.spark
def test_stockout_rows_have_zero_on_hand_and_censor_true_demand(weekly):
    ds, _, frames = weekly
    sales = _good_sales(frames)
    assert (sales.loc[sales.units == 0, "on_hand"] == 0).all()
    truth = frames["truth"]
    period = ((pd.to_datetime(sales.date) - pd.Timestamp(ds.history_start)).dt.days // 7).to_numpy()
    true_demand = dict(zip(zip(truth.sku_id, truth.location_id), truth.history_demand))
    demand = np.array([true_demand[k][p] for k, p in zip(zip(sales.sku_id, sales.location_id), period)])
    censored = sales.units.to_numpy() < demand
    assert censored.sum() > 0
    assert (sales.on_hand.to_numpy()[censored] == 0).all()
    np.testing.assert_array_equal(sales.units.to_numpy()[~censored], demand[~censored])
    assert (truth.stockout_periods > 0).mean() > 0.2


@pytest.mark.spark
def test_new_items_have_no_rows_before_launch_and_discontinued_none_after_end(weekly):
    ds, _, frames = weekly
    sales, truth = _good_sales(frames), frames["truth"]
    span = sales.groupby(["sku_id", "location_id"]).date.agg(["min", "max"]).reset_index()
    span = span.merge(truth[["sku_id", "location_id", "launch_date", "end_date"]])
    new = span.launch_date > ds.history_start
    assert new.sum() >= 5
    assert (span["min"] >= span.launch_date).all()
    ended = span.end_date.notna()
    assert ended.sum() >= 1 and (span.loc[ended, "max"] < span.loc[ended, "end_date"]).all()


@pytest.mark.spark
def test_closed_store_periods_have_no_rows_for_any_sku(weekly):
    ds, _, frames = weekly
    sales = frames["sales"].dropna(subset=["date"])
    grid = pd.date_range(ds.history_start, periods=ds.n_periods, freq="7D").date
    recorded = set(zip(sales.location_id, sales.date))
    stores = sorted(frames["locations"].query("location_type == 'store'").location_id)
    missing = [(s, d) for s in stores for d in grid if (s, d) not in recorded]
    assert ds.closed_store_periods >= 1
    assert len(missing) == ds.closed_store_periods


@pytest.mark.spark
def test_promotions_cover_past_promo_sales_and_plan_13_periods_ahead(weekly):
    ds, _, frames = weekly
    promotions, sales = frames["promotions"], _good_sales(frames)
    assert (promotions.promo == 1).all()
    future = promotions[promotions.date >= ds.run_date]
    assert len(future) > 0
    assert future.date.max() <= ds.run_date + dt.timedelta(weeks=ds.n_planned_periods - 1)
    assert future.date.nunique() >= 8
    promo_sales = sales[sales.promo == 1][["sku_id", "location_id", "date", "price"]]
    merged = promo_sales.merge(promotions, on=["sku_id", "location_id", "date"], how="left")
    assert merged.promo.notna().all() and np.allclose(merged.price_x, merged.price_y)
    regular = sales[sales.promo == 0].groupby(["sku_id", "location_id"]).price.median()
    on_promo = promo_sales.groupby(["sku_id", "location_id"]).price.median()
    assert (on_promo / regular.reindex(on_promo.index)).dropna().lt(0.95).mean() > 0.8


@pytest.mark.spark
def test_dc_supply_is_short_of_store_needs_for_about_a_fifth_of_skus(weekly):
    _, _, frames = weekly
    need = frames["truth"].groupby(["sku_id", "dc_id"]).supply_need.sum().rename("need").reset_index()
    supply = frames["dc_supply"].merge(need, on=["sku_id", "dc_id"], validate="one_to_one")
    active = supply[supply.need > 0]
    short = active.available_units < active.need
    assert 0.05 <= short.mean() <= 0.4
    assert (active.loc[~short, "available_units"] >= 1.3 * active.loc[~short, "need"]).all()


@pytest.mark.spark
def test_receipts_lead_times_store_short_vendor_long_and_variable(weekly):
    ds, _, frames = weekly
    receipts = frames["receipts"]
    lead = (pd.to_datetime(receipts.receipt_date) - pd.to_datetime(receipts.order_date)).dt.days
    from_dc = receipts.source_id.str.startswith("DC")
    good_store = lead[from_dc & (lead >= 0)]
    assert set(good_store) <= {1, 2, 3} and good_store.nunique() == 3
    vendor = lead[receipts.source_id.str.startswith("V")]
    assert len(vendor) > 0 and vendor.median() >= 7 and vendor.std() > 2 and vendor.max() > 2 * vendor.median()
    assert (receipts.qty_received <= receipts.qty_ordered).all()
    assert (receipts.qty_received < receipts.qty_ordered).any()


@pytest.mark.spark
def test_bad_rows_are_injected_and_counted_by_kind(weekly):
    ds, _, frames = weekly
    sales, receipts = frames["sales"], frames["receipts"]
    assert sales.sku_id.isna().sum() == ds.bad_rows["null_sku_id"] > 0
    assert (sales.units < 0).sum() == ds.bad_rows["negative_units"] > 0
    assert sales.date.isna().sum() == ds.bad_rows["null_date"] > 0
    assert sales.duplicated().sum() == ds.bad_rows["duplicate"] > 0
    before = (receipts.receipt_date < receipts.order_date).sum()
    assert before == ds.bad_rows["receipt_before_order"] > 0
    total_bad = sum(ds.bad_rows[k] for k in syn.BAD_ROW_KINDS)
    assert total_bad / len(sales) == pytest.approx(0.02, abs=0.008)


@pytest.mark.spark
def test_truth_class_mix_and_levels_are_consistent_with_sales(weekly):
    _, _, frames = weekly
    truth = frames["truth"]
    history = np.stack(truth.history_demand.to_numpy())  # (n_series, n_periods)
    measured = syn.classify_demand(history)
    for name, share in zip(syn.DEMAND_CLASSES, syn.DEMAND_CLASS_MIX):
        assert abs((measured == name).mean() - share) < 0.1, name
    level = np.nanmean(history, axis=1) / truth.mean_level.to_numpy()
    assert np.median(level) == pytest.approx(1.0, abs=0.15)  # season and promos move it a little
    assert (np.stack(truth.future_mean.to_numpy()).shape == (300, 13))


def _period_pmf(block, i, t, support):
    """Exact pmf of the generator's demand of series ``i`` in period ``t``: Bernoulli x (1 + NegBin)."""
    expected, p, r = block.expected_demand[i, t], block.occurrence_prob[i], block.nb_dispersion[i]
    pmf = np.zeros(support.size)
    pmf[0] = 1.0
    if expected > 0:
        excess = expected / p - 1.0
        pmf = p * np.concatenate([[0.0], stats.nbinom.pmf(support[:-1], r, r / (r + excess))])
        pmf[0] += 1.0 - p
    return pmf


def test_interval_demand_quantiles_invert_the_exact_cdf_of_the_generators_law():
    """Two-period sums of Bernoulli x (1 + NegBin) demand: the exact pmf is the convolution of the
    periods' pmfs (scipy's nbinom); each Monte Carlo quantile q must satisfy F(q) >= level and
    F(q - 1) < level up to the draws' sampling error."""
    plan = syn.GeneratorPlan(n_series=60, n_periods=52, frequency="W", seed=11, n_planned=8, block_size=60)
    block = syn.generate_series_block(plan, 0)
    levels = np.array([0.5, 0.7, 0.9, 0.98])
    quantiles, cdf_at, cdf_below = syn.interval_demand_quantiles(block, 52, 3, np.full(60, 2), levels, n_draws=20000,
                                                                seed=2, with_cdf=True)
    assert quantiles.shape == cdf_at.shape == cdf_below.shape == (4, 60, 3)
    np.testing.assert_array_equal(quantiles, syn.interval_demand_quantiles(block, 52, 3, np.full(60, 2), levels,
                                                                           n_draws=20000, seed=2))
    assert np.all(cdf_at >= levels[:, None, None]) and np.all(cdf_below < levels[:, None, None])
    support = np.arange(4000)
    checked = 0
    for i in range(60):
        # holdout period 1 covers generator periods 53 and 54
        pmf = np.convolve(_period_pmf(block, i, 53, support), _period_pmf(block, i, 54, support))[:support.size]
        cdf = np.cumsum(pmf)
        q = quantiles[:, i, 1].astype(int)
        assert np.all(cdf[q] >= levels - 0.01)
        assert np.all(np.where(q > 0, cdf[np.maximum(q - 1, 0)], 0.0) < levels + 0.01)
        np.testing.assert_allclose(cdf_at[:, i, 1], cdf[q], atol=0.01)  # the draws' cdf is the law's
        np.testing.assert_allclose(cdf_below[:, i, 1], np.where(q > 0, cdf[np.maximum(q - 1, 0)], 0.0), atol=0.01)
        checked += int(block.expected_demand[i, 53] > 0)
    assert checked >= 40
    dead = block.expected_demand[:, 52:56].sum(axis=1) == 0
    assert (quantiles[:, dead] == 0).all()


def test_interval_demand_fill_rate_levels_meet_the_exact_fill_rate_of_the_generators_law():
    """(R,S) with L = R = 1 from holdout period 1 (generator periods 53 and 54): the exact
    beta(S) = 1 - (E[(d53 + d54 - S)^+] - E[(d53 - S)^+]) / E[d54] (SPP 4th ed. §6.9) from the
    periods' pmfs; each Monte Carlo level S must satisfy beta(S) >= level and beta(S - 1) < level
    up to the draws' sampling error (100,000 draws: about 0.003 here). With ``with_fill`` the same
    levels come with beta(S), beta(S - 1) and E[d54], as the exact law gives them."""
    plan = syn.GeneratorPlan(n_series=60, n_periods=52, frequency="W", seed=11, n_planned=8, block_size=60)
    block = syn.generate_series_block(plan, 0)
    levels = np.array([0.7, 0.9, 0.98])
    S, fill_at, fill_below, review_demand = syn.interval_demand_fill_rate_levels(
        block, 52, 2, np.ones(60), np.ones(60), levels, n_draws=100000, seed=2, with_fill=True)
    assert S.shape == fill_at.shape == fill_below.shape == (3, 60, 2) and review_demand.shape == (60, 2)
    np.testing.assert_array_equal(S, syn.interval_demand_fill_rate_levels(block, 52, 2, np.ones(60), np.ones(60),
                                                                          levels, n_draws=100000, seed=2))
    assert np.all(fill_at >= levels[:, None, None]) and np.all(fill_below[S > 0] < np.broadcast_to(
        levels[:, None, None], S.shape)[S > 0])
    assert np.all(S == np.round(S)) and np.all(np.diff(S, axis=0) >= 0)
    support = np.arange(4000)
    checked = 0
    for i in range(60):
        first, second = _period_pmf(block, i, 53, support), _period_pmf(block, i, 54, support)
        if (second * support).sum() == 0:
            assert np.all(S[:, i, 1] == 0)
            continue
        both = np.convolve(first, second)[:support.size]

        def beta(level):
            loss_both = (both * np.maximum(support - level, 0)).sum()
            loss_first = (first * np.maximum(support - level, 0)).sum()
            return 1.0 - (loss_both - loss_first) / (second * support).sum()

        for j, level in enumerate(levels):
            s = S[j, i, 1]
            assert beta(s) >= level - 0.01
            assert s == 0 or beta(s - 1) < level + 0.01
            assert fill_at[j, i, 1] == pytest.approx(beta(s), abs=0.01)
            assert fill_below[j, i, 1] == pytest.approx(beta(s - 1), abs=0.01)
        mean, variance = (second * support).sum(), (second * support ** 2).sum() - (second * support).sum() ** 2
        assert review_demand[i, 1] == pytest.approx(mean, abs=4.0 * np.sqrt(variance / 100000))  # 4 standard errors
        checked += 1
    assert checked >= 40
