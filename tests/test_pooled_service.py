"""Segment-pooled CSL and fill-rate targets: kernels.pooled_service and compute_policies(pool_service_by=...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invspark.errors import ConfigError, InputDataError
from invspark.kernels.pooled_service import pool_unit_costs, pooled_levels
from invspark.policy import compute_policies
from invspark.stages.policy import PolicySettings, policy_batch


def per_group_reference(level, cdf_at, cdf_below, target, weight, cost, group):
    """The greedy of the module docstring, one group and one item at a time."""
    out = np.array(level, dtype=float)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        slack = sum(weight[i] * max(cdf_at[i] - target[i], 0.0) for i in members)
        candidates = sorted((weight[i] * (cdf_at[i] - cdf_below[i]) / cost[i], i) for i in members if level[i] >= 2)
        for _, i in candidates:
            step = weight[i] * (cdf_at[i] - cdf_below[i])
            if step > slack * (1 + 1e-12):
                break
            slack -= step
            out[i] -= 1.0
    return out


def test_an_item_short_of_its_own_target_is_never_lowered_and_adds_no_slack():
    # item 0 meets 0.90 at 0.98 (slack 0.08); item 1 is capped at 0.85 (a fill-rate level stopped at
    # its cap): it spends nothing of item 0's slack and stays; item 2's step 0.05 fits the slack
    level = pooled_levels(level=np.array([5.0, 5.0, 4.0]), service_at_level=np.array([0.98, 0.85, 0.90]),
                          service_below=np.array([0.80, 0.84, 0.85]), target=np.full(3, 0.90), weight=np.ones(3),
                          unit_cost=np.ones(3), group=np.zeros(3, dtype=int))
    np.testing.assert_array_equal(level, [5.0, 5.0, 3.0])


def test_hand_computed_pool_lowers_the_cheapest_step_first():
    # target 0.90; slack 0.05 + 0.07 + 0.02 + 0.06 = 0.20. Item 2's step (0.07) is spent first,
    # item 0's (0.15) would exceed what is left (0.13); item 1 is at level 0 and item 3 at level 1:
    # neither goes lower (no shelf is emptied), whatever the slack.
    level = pooled_levels(level=np.array([2.0, 0.0, 3.0, 1.0]), service_at_level=np.array([0.95, 0.97, 0.92, 0.96]),
                              service_below=np.array([0.80, 0.0, 0.85, 0.89]), target=np.full(4, 0.90),
                              weight=np.ones(4), unit_cost=np.ones(4), group=np.zeros(4, dtype=int))
    np.testing.assert_array_equal(level, [2.0, 0.0, 2.0, 1.0])  # pooled CSL (0.95 + 0.97 + 0.85 + 0.96) / 4


def test_money_and_cycles_decide_which_item_gives_a_unit():
    common = dict(level=np.array([3.0, 3.0]), service_at_level=np.array([0.95, 0.95]), service_below=np.array([0.85, 0.85]),
                  target=np.full(2, 0.90), group=np.zeros(2, dtype=int))
    # slack 0.10 buys one step of 0.10: the dearer item saves more money for it
    assert pooled_levels(weight=np.ones(2), unit_cost=np.array([1.0, 4.0]), **common).tolist() == [3.0, 2.0]
    # an item reviewed every 4 periods has a quarter of the cycles: its step costs a quarter of the slack
    weight = np.array([1.0, 0.25])
    assert pooled_levels(weight=weight, unit_cost=np.ones(2), **common).tolist() == [3.0, 2.0]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=4), st.integers(0, 2**31 - 1))
def test_pooled_levels_meet_each_group_target_and_equal_the_per_group_reference(n, n_groups, seed):
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 6, n).astype(float)
    cdf_below = np.where(level >= 1, rng.uniform(0.3, 0.9, n), 0.0)
    cdf_at = np.minimum(cdf_below + rng.uniform(0.01, 0.4, n), 1.0)
    target = np.minimum(rng.uniform(0.5, 0.99, n), cdf_at)  # y_i is the smallest level meeting alpha_i
    target = np.where(cdf_below < target, target, np.minimum(cdf_below + 1e-6, cdf_at))
    weight, cost = rng.uniform(0.2, 1.0, n), rng.uniform(0.5, 5.0, n)
    group = rng.integers(0, n_groups, n)
    pooled = pooled_levels(level, cdf_at, cdf_below, target, weight, cost, group)
    np.testing.assert_array_equal(pooled, per_group_reference(level, cdf_at, cdf_below, target, weight, cost, group))
    lowered = pooled < level
    assert np.all((level - pooled == 0) | (lowered & (level >= 2) & (level - pooled == 1)))
    cdf = np.where(lowered, cdf_below, cdf_at)
    for g in np.unique(group):
        rows = group == g
        assert np.sum(weight[rows] * cdf[rows]) >= np.sum(weight[rows] * target[rows]) - 1e-9


def negbin_rows(n, seed=0, segments=("AX-smooth",)):
    rng = np.random.default_rng(seed)
    mean = rng.gamma(1.0, 1.0, n)
    return pd.DataFrame({
        "sku_id": [f"s{i:04d}" for i in range(n)], "location_id": "L1", "demand_mean": mean,
        "demand_std": np.sqrt(1.5 * mean), "distribution": "negbin", "lead_time_mean": 1.0, "review_period": 1.0,
        "service_level_target": 0.90, "segment": rng.choice(list(segments), n), "unit_cost": rng.uniform(1, 10, n),
    })


def test_compute_policies_pools_each_group_down_to_its_target_at_less_stock():
    rows = negbin_rows(600, segments=("AX-smooth", "CZ-lumpy"))
    own = compute_policies(rows)
    pooled = compute_policies(rows, pool_service_by="segment")
    for segment in ("AX-smooth", "CZ-lumpy"):
        at = rows["segment"] == segment
        assert own.loc[at, "expected_csl"].mean() > 0.92  # whole units overshoot 0.90
        assert 0.90 - 1e-9 <= pooled.loc[at, "expected_csl"].mean() < 0.901
    drop = own["order_up_to"] - pooled["order_up_to"]
    assert set(drop.unique()) == {0.0, 1.0} and (pooled["order_up_to"] >= np.minimum(own["order_up_to"], 1.0)).all()
    np.testing.assert_allclose(pooled["safety_stock"], pooled["order_up_to"] - (own["order_up_to"] - own["safety_stock"]))


def test_null_pool_and_zero_demand_rows_keep_their_own_levels():
    rows = negbin_rows(200)
    rows.loc[:49, "segment"] = None
    rows.loc[50:59, "demand_mean"] = 0.0
    own, pooled = compute_policies(rows), compute_policies(rows, pool_service_by="segment")
    pd.testing.assert_series_equal(pooled.loc[:59, "order_up_to"], own.loc[:59, "order_up_to"])
    assert (pooled.loc[60:, "order_up_to"] < own.loc[60:, "order_up_to"]).any()


def fill_rate_met(frame: pd.DataFrame) -> float:
    """A group's expected unit-weighted fill rate: 1 - sum of units short / sum of demand."""
    return float((frame["demand_mean"] * frame["expected_fill_rate"]).sum() / frame["demand_mean"].sum())


def test_fill_rate_rows_pool_their_units_short_apart_from_the_csl_rows_of_their_segment():
    """Half of a segment's rows at a 0.90 fill rate, half at a 0.90 CSL: each half is its own pool and
    lands on its own measure's target from above (units short per unit of demand, stockout
    occasions per cycle), at less stock than each row's own whole-unit level."""
    rows = negbin_rows(800, seed=5, segments=("AX-smooth", "CZ-lumpy"))
    rows["service_level_type"] = np.where(np.arange(800) % 2 == 0, "fill_rate", "csl")
    own = compute_policies(rows)
    pooled = compute_policies(rows, pool_service_by="segment")
    fill = (rows["service_level_type"] == "fill_rate").to_numpy()
    for segment in ("AX-smooth", "CZ-lumpy"):
        at = (rows["segment"] == segment).to_numpy()
        assert fill_rate_met(own[at & fill]) > 0.92  # whole units overshoot 0.90
        assert 0.90 - 1e-9 <= fill_rate_met(pooled[at & fill]) < 0.902
        assert 0.90 - 1e-9 <= pooled.loc[at & ~fill, "expected_csl"].mean() < 0.902
    assert (own["order_up_to"] == np.round(own["order_up_to"])).all()  # negative binomial levels: whole units
    lowered = own["order_up_to"] - pooled["order_up_to"]
    assert set(lowered.unique()) == {0.0, 1.0} and (lowered[fill] == 1.0).any()


def test_a_capped_fill_rate_row_keeps_its_level_and_its_flag():
    """A near-dead item with a heavy tail: its fill-rate level stops at the FILL_RATE_MAX_CSL quantile
    (exception fill_rate_capped) below its target. Pooled, it adds no slack, is not lowered, and keeps
    its flag; its pool's other rows still pool."""
    rows = negbin_rows(200, seed=6).assign(service_level_type="fill_rate")
    rows.loc[0, ["demand_mean", "demand_std"]] = [0.001, 5.0]
    own, pooled = compute_policies(rows), compute_policies(rows, pool_service_by="segment")
    assert own.loc[0, "exception"] == "fill_rate_capped" and own.loc[0, "expected_fill_rate"] < 0.90
    assert pooled.loc[0, "exception"] == "fill_rate_capped"
    assert pooled.loc[0, "order_up_to"] == np.ceil(own.loc[0, "order_up_to"] - 1e-9)
    assert (pooled.loc[1:, "order_up_to"] < own.loc[1:, "order_up_to"]).any()


def test_continuous_families_pool_in_whole_units():
    rows = negbin_rows(300).assign(distribution="normal")
    pooled = compute_policies(rows, pool_service_by="segment")
    assert np.all(pooled["order_up_to"] == np.round(pooled["order_up_to"]))
    assert pooled["expected_csl"].mean() >= 0.90 - 1e-9


def test_unknown_pool_column_is_a_clear_error():
    with pytest.raises(InputDataError, match="pool_service_by names the column 'region'"):
        compute_policies(negbin_rows(3), pool_service_by="region")


def test_policy_batch_pools_by_segment_whatever_the_row_order_and_spares_item_targets():
    rows = negbin_rows(400, seed=3, segments=("AX-smooth", "BY-erratic")).drop(columns="service_level_target")
    rows["service_level_target"] = np.where(np.arange(400) < 40, 0.95, np.nan)  # items' own targets
    segment_scope = PolicySettings(service_target_scope="segment")
    pooled = policy_batch(rows, segment_scope)
    assert pooled["sku_id"].tolist() == rows["sku_id"].tolist()
    shuffled = policy_batch(rows.sample(frac=1.0, random_state=7), segment_scope).set_index("sku_id")
    np.testing.assert_array_equal(shuffled.loc[pooled["sku_id"], "order_up_to"], pooled["order_up_to"])
    own = policy_batch(rows, PolicySettings())
    np.testing.assert_array_equal(pooled["order_up_to"][:40], own["order_up_to"][:40])
    assert (pooled["order_up_to"][40:] < own["order_up_to"][40:]).any()


def test_settings_reject_an_unknown_scope():
    with pytest.raises(ConfigError, match="service_target_scope must be one of"):
        PolicySettings(service_target_scope="location")


def test_budgeted_locations_keep_their_budget_levels_and_the_others_pool():
    rows = negbin_rows(300, seed=4, segments=("AX-smooth", "CZ-lumpy")).drop(columns="service_level_target")
    rows["location_id"] = np.where(np.arange(300) < 100, "L1", "L2")
    rows["safety_stock_budget"] = np.where(rows["location_id"] == "L1", 50.0, np.nan)
    series_scope = policy_batch(rows, PolicySettings())
    segment_scope = policy_batch(rows, PolicySettings(service_target_scope="segment"))
    budgeted = (rows["location_id"] == "L1").to_numpy()
    np.testing.assert_array_equal(segment_scope["order_up_to"][budgeted], series_scope["order_up_to"][budgeted])
    assert segment_scope["exception"][budgeted].fillna("").str.contains("target_unreachable_budget").any()
    assert (segment_scope["order_up_to"][~budgeted] < series_scope["order_up_to"][~budgeted]).any()


def test_unknown_unit_costs_are_priced_at_their_pools_median():
    costs = pool_unit_costs(np.array([2.0, np.nan, 4.0, 0.0, np.nan, np.nan]), np.array([0, 0, 0, 0, 1, 1]))
    np.testing.assert_array_equal(costs, [2.0, 3.0, 4.0, 3.0, 1.0, 1.0])
