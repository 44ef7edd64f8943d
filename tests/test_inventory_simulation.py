"""Tests of the vectorized inventory simulator against the per-series loop in
tests/reference/inventory_simulation_reference.py, hand-checked tiny cases, and achieved service
against the textbook target on demand with a known distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import inventory_simulation_reference as ref

from invspark.errors import InputDataError
from invspark.kernels.inventory_simulation import (
    draw_lead_times,
    outcome_ratios,
    simulate_inventory,
    summarize,
)
from invspark.policy import compute_policies

PATH_KEYS = ("on_hand", "backorders", "filled", "short", "sold", "ordered", "received")


def _random_panel(rng, n, T, random_lead):
    policy = rng.choice(np.array(["RS", "sQ", "sS", "RsS"], dtype=object), n)
    mean = rng.uniform(0.2, 8.0, n)
    demand = rng.poisson(mean[:, None], (n, T)).astype(float) * rng.choice([1.0, 1.5], (n, 1))
    demand[0] = 0.0  # an all-zero series
    lead_mean = rng.integers(0, 4, n).astype(float)
    lead_std = np.where(random_lead, rng.uniform(0.0, 1.5, n), 0.0)
    lead_times = draw_lead_times(lead_mean, lead_std, T, seed=int(rng.integers(1 << 31)))
    R = rng.integers(1, 4, n).astype(float)
    s = mean * (lead_mean + 1) + rng.uniform(-2, 6, n)
    S = s + rng.uniform(0, 15, n)
    Q = rng.uniform(0.5, 12, n)
    moq = np.where(rng.random(n) < 0.3, rng.uniform(0, 10, n), 0.0)
    case_pack = rng.choice([1.0, 1.0, 4.0, 6.0, 2.5], n)
    phase = rng.integers(0, 3, n)
    return dict(demand=demand, policy=policy, s=s, S=S, Q=Q, R=R, lead_times=lead_times, moq=moq,
                case_pack=case_pack, phase=phase)


def _run_both(p, lost_sales, supply_fill=None):
    got = simulate_inventory(p["demand"], p["policy"], p["s"], p["S"], p["Q"], p["R"], p["lead_times"],
                             moq=p["moq"], case_pack=p["case_pack"], lost_sales=lost_sales, review_phase=p["phase"],
                             supply_fill=supply_fill)
    want = ref.simulate_reference(p["demand"], p["policy"], p["s"], p["S"], p["Q"], p["R"], p["lead_times"],
                                  p["moq"], p["case_pack"], lost_sales, p["phase"], supply_fill)
    return got, want


def _assert_same(got, want):
    for key in PATH_KEYS:
        np.testing.assert_allclose(getattr(got, key), want[key], rtol=1e-9, atol=1e-9, err_msg=key)
    np.testing.assert_array_equal(got.stockout, want["stockout"])
    np.testing.assert_array_equal(got.cycles, want["cycles"])
    np.testing.assert_array_equal(got.cycles_with_stockout, want["cycles_with_stockout"])
    np.testing.assert_allclose(got.on_order_end, want["on_order_end"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("random_lead", [False, True])
@pytest.mark.parametrize("lost_sales", [False, True])
def test_matches_per_series_loop_reference(random_lead, lost_sales):
    rng = np.random.default_rng(7 + random_lead + 2 * lost_sales)
    panel = _random_panel(rng, n=40, T=30, random_lead=random_lead)
    got, want = _run_both(panel, lost_sales)
    _assert_same(got, want)


def test_matches_reference_with_dc_shortages():
    rng = np.random.default_rng(3)
    panel = _random_panel(rng, n=25, T=20, random_lead=True)
    fill = np.where(rng.random((25, 20)) < 0.7, 1.0, rng.uniform(0, 1, (25, 20)))
    got, want = _run_both(panel, lost_sales=True, supply_fill=fill)
    _assert_same(got, want)
    assert (got.received.sum() < got.ordered.sum())  # the shortage cancelled part of the orders


def test_matches_reference_with_levels_that_change_every_period():
    rng = np.random.default_rng(21)
    panel = _random_panel(rng, n=30, T=25, random_lead=True)
    drift = rng.uniform(0.5, 1.5, (30, 25))  # re-planned levels, e.g. a seasonal forecast path
    panel["s"] = panel["s"][:, None] * drift
    panel["S"] = panel["s"] + rng.uniform(0, 10, (30, 1))
    got, want = _run_both(panel, lost_sales=False)
    _assert_same(got, want)
    # RS orders up to the period's level: with lead time 0 and no rounding, stock after ordering = S_t
    S = np.linspace(5.0, 20.0, 6)[None, :]
    result = simulate_inventory(np.full((1, 6), 3.0), "RS", np.nan, S, np.nan, 1, np.zeros((1, 6), dtype=int))
    np.testing.assert_allclose(result.on_hand[0], S[0] - 3.0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), T=st.integers(1, 15), lost_sales=st.booleans())
def test_property_matches_reference_on_any_small_panel(seed, n, T, lost_sales):
    panel = _random_panel(np.random.default_rng(seed), n=n, T=T, random_lead=True)
    got, want = _run_both(panel, lost_sales)
    _assert_same(got, want)


def test_constant_demand_and_lead_time_hand_checked():
    # RS, R = 1, L = 2, demand 5 every period, S = 5 * (L + R) = 15: start with 15 on hand.
    # t=0: order 0 (IP = 15), sell 5 -> 10. t=1: IP = 10, order 5 (due t=3), sell 5 -> 5.
    # t=2: IP = 5 + 5 = 10, order 5 (due t=4), sell 5 -> 0. t>=3: 5 arrives, 5 sold, 0 left.
    T = 8
    result = simulate_inventory(np.full((1, T), 5.0), "RS", np.nan, 15.0, np.nan, 1, np.full((1, T), 2))
    np.testing.assert_array_equal(result.on_hand[0], [10, 5, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(result.ordered[0], [0, 5, 5, 5, 5, 5, 5, 5])
    np.testing.assert_array_equal(result.received[0], [0, 0, 0, 5, 5, 5, 5, 5])
    assert result.filled.sum() == 5.0 * T and not result.stockout.any()
    sums = summarize(result, np.full((1, T), 5.0), holding_cost=0.5, ordering_cost=10.0)
    ratios = outcome_ratios(sums, periods_per_year=52)
    assert ratios["fill_rate"][0] == 1.0 and ratios["csl"][0] == 1.0
    assert sums["holding_cost"][0] == 0.5 * 15 and sums["ordering_cost"][0] == 10.0 * 7
    # cycles: the RS orders of t=0.. arrive at 2, 3, ..., 7 (the one of t=0 marks a cycle too)
    assert result.cycles[0] == 5


def test_backorders_versus_lost_sales_accounting():
    # S = 4, L = 1, R = 1, demand 6 then 0s: period 0 sells 4 and is short 2.
    demand = np.array([[6.0, 0.0, 0.0, 0.0]])
    backorder = simulate_inventory(demand, "RS", np.nan, 4.0, np.nan, 1, np.ones((1, 4), dtype=int))
    lost = simulate_inventory(demand, "RS", np.nan, 4.0, np.nan, 1, np.ones((1, 4), dtype=int), lost_sales=True)
    # backorders: IP at t=1 = 0 - 2 = -2 -> order 6; it arrives at t=2, serves the 2 backordered, 4 left
    np.testing.assert_array_equal(backorder.backorders[0], [2, 2, 0, 0])
    np.testing.assert_array_equal(backorder.ordered[0], [0, 6, 0, 0])
    np.testing.assert_array_equal(backorder.sold[0], [4, 0, 2, 0])
    np.testing.assert_array_equal(backorder.on_hand[0], [0, 0, 4, 4])
    np.testing.assert_array_equal(backorder.stockout[0], [True, True, False, False])
    # lost sales: the 2 are gone, the order at t=1 only restores S = 4
    np.testing.assert_array_equal(lost.backorders[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(lost.ordered[0], [0, 4, 0, 0])
    np.testing.assert_array_equal(lost.on_hand[0], [0, 0, 4, 4])
    np.testing.assert_array_equal(lost.stockout[0], [True, False, False, False])
    lost_sums = summarize(lost, demand, lost_sales=True)
    assert lost_sums["lost_units"][0] == 2.0 and lost_sums["filled"][0] == 4.0


def test_moq_and_case_pack_rounding():
    # RS with S = 10: after selling 3 the need is 3; MOQ 5 lifts it to 5, case pack 4 rounds to 8.
    demand = np.array([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    result = simulate_inventory(demand, "RS", np.nan, 10.0, np.nan, 1, np.zeros((2, 3), dtype=int),
                                moq=np.array([5.0, 0.0]), case_pack=np.array([4.0, 1.0]))
    np.testing.assert_array_equal(result.ordered[:, 1], [8.0, 3.0])
    np.testing.assert_array_equal(result.on_hand[:, 1], [15.0, 10.0])  # lead time 0: arrives before demand
    # sQ: IP 2 <= s = 3 with Q = 4 orders the smallest multiple of Q lifting IP above s: 4 (IP 6 > 3)
    sq = simulate_inventory(np.array([[5.0, 0.0]]), "sQ", 3.0, np.nan, 4.0, 1, np.ones((1, 2), dtype=int),
                            initial_on_hand=7.0)
    np.testing.assert_array_equal(sq.ordered[0], [0.0, 4.0])


def test_draw_lead_times_moments_and_seed():
    mean = np.array([0.0, 2.0, 3.0, 5.0])
    std = np.array([0.0, 0.0, 1.0, 2.0])
    draws = draw_lead_times(mean, std, 20000, seed=5)
    again = draw_lead_times(mean, std, 20000, seed=5)
    np.testing.assert_array_equal(draws, again)
    np.testing.assert_array_equal(draws[0], 0)
    np.testing.assert_array_equal(draws[1], 2)
    np.testing.assert_allclose(draws[2:].mean(axis=1), mean[2:], atol=0.05)
    np.testing.assert_allclose(draws[2:].std(axis=1), std[2:], rtol=0.1)  # rounding adds ~1/12 variance


def test_errors_name_the_argument():
    with pytest.raises(InputDataError, match="demand must be finite"):
        simulate_inventory(np.array([[np.nan]]), "RS", 0.0, 1.0, 1.0, 1, np.zeros((1, 1), dtype=int))
    with pytest.raises(InputDataError, match="policy must be one of"):
        simulate_inventory(np.ones((1, 2)), "RQ", 0.0, 1.0, 1.0, 1, np.zeros((1, 2), dtype=int))
    with pytest.raises(InputDataError, match="order_quantity must be > 0"):
        simulate_inventory(np.ones((1, 2)), "sQ", 0.0, 1.0, 0.0, 1, np.zeros((1, 2), dtype=int))
    with pytest.raises(InputDataError, match="lead_time_mean must be >= 0"):
        draw_lead_times(np.array([np.nan]), 0.0, 3, seed=1)


@pytest.mark.parametrize("distribution,review_period,lead_time,target", [
    ("poisson", 1, 2, 0.95),
    ("negbin", 2, 1, 0.90),
    ("normal", 1, 3, 0.98),
])
def test_rs_achieves_the_target_csl_on_known_demand(distribution, review_period, lead_time, target):
    """Silver, Pyke & Thomas (2017) sec. 6.9: with backorders, RS orders up to the (L + R) demand's
    target quantile, so the share of review cycles without a stockout is the target. The policy comes
    from invspark.policy.compute_policies given the true distribution; the achieved CSL, pooled over
    2,000 series x 104 periods, must land within +-1.5 pp."""
    rng = np.random.default_rng(11)
    n, T = 2000, 104
    mean = rng.uniform(2.0, 20.0, n)
    if distribution == "poisson":
        std = np.sqrt(mean)
        demand = rng.poisson(mean[:, None], (n, T)).astype(float)
    elif distribution == "negbin":
        std = np.sqrt(mean * 2.0)  # variance 2 x mean: r = mean, p = 1/2
        demand = rng.negative_binomial(mean[:, None], 0.5, (n, T)).astype(float)
    else:
        std = 0.25 * mean
        demand = np.maximum(rng.normal(mean[:, None], std[:, None], (n, T)), 0.0)
    policies = compute_policies(pd.DataFrame({
        "demand_mean": mean, "demand_std": std, "distribution": distribution, "lead_time_mean": float(lead_time),
        "lead_time_std": 0.0, "review_period": float(review_period), "policy": "RS", "service_level_type": "csl",
        "service_level_target": target,
    }))
    S = policies["order_up_to"].to_numpy()
    result = simulate_inventory(demand, "RS", np.nan, S, np.nan, review_period,
                                np.full((n, T), lead_time), review_phase=rng.integers(0, review_period, n))
    ratios = outcome_ratios(summarize(result, demand), periods_per_year=52)
    pooled_csl = 1.0 - result.cycles_with_stockout.sum() / result.cycles.sum()
    assert abs(pooled_csl - target) <= 0.015, pooled_csl
    assert np.nanmean(ratios["fill_rate"]) > target  # the fill rate of a CSL policy exceeds its CSL here
