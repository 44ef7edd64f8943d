"""Allocation of scarce DC stock: invspark.network.allocate and invspark.kernels.allocation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from invspark.errors import ConfigError, InputDataError
from invspark.kernels import allocation as alloc
from invspark.network import AllocationSettings, allocate
from reference.allocation_reference import best_allocation_value, expected_sales_one, fair_share_one_group

DISTRIBUTIONS = list(alloc.DISTRIBUTIONS)


def _codes(names, mean, std):
    raw = np.array([DISTRIBUTIONS.index(name) for name in names], dtype=np.int64)
    return alloc.effective_distribution(np.asarray(mean, float), np.asarray(std, float), raw)


def _objective(frame: pd.DataFrame, column: str) -> float:
    """Expected margin sold, evaluated with the loop reference."""
    return sum(
        row.unit_margin * expected_sales_one(row.on_hand + getattr(row, column), row.demand_mean, row.demand_std, row.distribution)
        for row in frame.itertuples()
    )


@st.composite
def allocation_frames(draw, max_groups=3, max_stores=4, max_available=16):
    rows = []
    for g in range(draw(st.integers(1, max_groups))):
        case_pack = draw(st.sampled_from([1, 1, 2, 3]))
        available = draw(st.integers(0, max_available))
        for s in range(draw(st.integers(1, max_stores))):
            distribution = draw(st.sampled_from(DISTRIBUTIONS))
            mean = draw(st.sampled_from([0.0, 0.5, 2.0, 4.0, 7.5]))
            std = draw(st.sampled_from([0.0, 1.0, 2.5, 4.0]))
            rows.append(
                {
                    "sku_id": f"sku{g // 2}",  # groups 0 and 1 are one SKU at two DCs, same store ids
                    "dc_id": f"dc{g % 2}",
                    "location_id": f"store{s}",
                    "available_units": float(available),
                    "demand_mean": mean,
                    "demand_std": std,
                    "distribution": distribution,
                    "on_hand": float(draw(st.integers(0, 3))),
                    "unit_margin": draw(st.sampled_from([1.0, 2.0, 3.5])),
                    "case_pack": case_pack,
                    "capacity_units": draw(st.sampled_from([np.nan, np.nan, 4.0, 9.0])),
                }
            )
    return pd.DataFrame(rows)


def _check_feasible(result: pd.DataFrame) -> None:
    for column in ("allocated_units", "fair_share_units"):
        units = result[column].to_numpy()
        assert np.all(units >= 0)
        assert np.allclose(units % result["case_pack"].to_numpy(), 0)
        assert np.all(units <= result["requested_units"].to_numpy() + 1e-9)
        room = (result["capacity_units"] - result["on_hand"]).fillna(np.inf).clip(lower=0).to_numpy()
        assert np.all(units <= room + 1e-9)
        per_group = result.groupby(["sku_id", "dc_id"]).agg(total=(column, "sum"), available=("available_units", "first"))
        assert np.all(per_group["total"] <= per_group["available"] + 1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation_frames(max_groups=3, max_stores=3))
def test_marginal_value_allocation_is_optimal_against_brute_force(frame):
    result = allocate(frame)
    _check_feasible(result)
    for _, group in result.groupby(["sku_id", "dc_id"]):
        stores = group.to_dict("records")
        best = best_allocation_value(stores, group["available_units"].iloc[0])
        assert _objective(group, "allocated_units") == pytest.approx(best, rel=1e-7, abs=1e-7)
        # fair share is feasible, so it can never beat the optimum
        assert _objective(group, "fair_share_units") <= best + 1e-7


@settings(max_examples=25, deadline=None)
@given(allocation_frames(max_groups=6, max_stores=12, max_available=60))
def test_never_over_available_nor_capacity_and_whole_cases(frame):
    result = allocate(frame)
    _check_feasible(result)
    # short groups use up every whole case they can
    grouped = result.groupby(["sku_id", "dc_id"])
    for _, group in grouped:
        pack = group["case_pack"].iloc[0]
        available_cases = math.floor(group["available_units"].iloc[0] / pack)
        requested_cases = round(group["requested_units"].sum() / pack)
        used = min(available_cases, requested_cases) * pack
        assert group["allocated_units"].sum() == pytest.approx(used)
        assert group["fair_share_units"].sum() == pytest.approx(used)


def test_allocation_equals_requests_when_supply_suffices():
    frame = pd.DataFrame(
        {
            "sku_id": ["a"] * 3 + ["b"] * 2,
            "dc_id": "dc1",
            "location_id": ["s1", "s2", "s3", "s1", "s2"],
            "available_units": [1000.0] * 3 + [40.0] * 2,
            "demand_mean": [5.0, 12.0, 0.0, 9.0, 11.0],
            "demand_std": [2.0, 5.0, 0.0, 3.0, 3.0],
            "case_pack": [6, 6, 6, 1, 1],
        }
    )
    result = allocate(frame)
    assert result["requested_units"].sum() <= 1000 + 40
    np.testing.assert_array_equal(result["allocated_units"], result["requested_units"])
    np.testing.assert_array_equal(result["fair_share_units"], result["requested_units"])
    assert result["requested_units"].iloc[2] == 0.0  # no demand, no request


def test_hand_example_poisson_single_unit_goes_to_higher_stockout_risk():
    """One unit, two Poisson stores. Store A: mean 1, nothing on hand: the unit sells with
    P(D >= 1) = 1 - e^-1 = 0.6321. Store B: mean 3, 2 on hand: P(D >= 3) = 1 - e^-3 (1 + 3 + 4.5)
    = 0.5768. Greedy gives the unit to A; fair share (requests 3 and 4 units at 95%) gives
    floor(1 * 3/7) = 0, floor(4/7) = 0 and the leftover unit to the larger remainder, B."""
    frame = pd.DataFrame(
        {
            "sku_id": "x",
            "dc_id": "d",
            "location_id": ["A", "B"],
            "available_units": 1.0,
            "demand_mean": [1.0, 3.0],
            "demand_std": [1.0, math.sqrt(3.0)],
            "distribution": "poisson",
            "on_hand": [0.0, 2.0],
        }
    )
    result = allocate(frame).set_index("location_id")
    assert stats.poisson.ppf(0.95, 1.0) == 3 and stats.poisson.ppf(0.95, 3.0) == 6
    assert result["requested_units"].tolist() == [3.0, 4.0]
    assert result["allocated_units"].tolist() == [1.0, 0.0]
    assert result["fair_share_units"].tolist() == [0.0, 1.0]
    gain = result["expected_units_sold"].sum() - result["expected_units_sold_fair_share"].sum()
    assert gain == pytest.approx((1 - math.exp(-1)) - (1 - math.exp(-3) * 8.5), abs=1e-12)


@pytest.mark.parametrize("distribution, mean, std", [("poisson", 3.2, 0.0), ("negbin", 4.0, 3.0), ("negbin", 0.7, 1.5)])
@pytest.mark.parametrize("case_pack", [1, 4])
def test_integer_demand_case_value_is_exact_sum_of_survival_probabilities(distribution, mean, std, case_pack):
    on_hand = np.array([0.0, 2.0, 5.0, 11.0])
    n = on_hand.size
    value = alloc.case_values(
        on_hand,
        np.full(n, float(case_pack)),
        np.full(n, 2.5),
        np.full(n, mean),
        np.full(n, std),
        _codes([distribution] * n, np.full(n, mean), np.full(n, std)),
    )
    if distribution == "poisson":
        law = stats.poisson(mean)
    else:
        law = stats.nbinom(mean**2 / (std**2 - mean), mean / std**2)
    units = on_hand[:, None] + np.arange(case_pack)[None, :]  # the case's units k: P(D > on_hand + k - 1)
    np.testing.assert_allclose(value, 2.5 * law.sf(units).sum(axis=1), rtol=1e-12, atol=1e-14)


def test_expected_sales_matches_loop_reference():
    rng = np.random.default_rng(7)
    n = 120
    names = rng.choice(DISTRIBUTIONS, n)
    mean = rng.choice([0.0, 0.3, 1.0, 4.0, 25.0], n)
    std = rng.choice([0.0, 0.5, 2.0, 6.0], n)
    stock = rng.choice([0.0, 1.0, 2.5, 7.0, 30.0], n)
    got = alloc.expected_sales(stock, mean, std, _codes(names, mean, std))
    want = [expected_sales_one(x, m, s, d) for x, m, s, d in zip(stock, mean, std, names)]
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("probability", [0.01, 0.5, 0.95, 0.999])
def test_integer_demand_quantile_equals_scipy_ppf(probability):
    rng = np.random.default_rng(4)
    n = 3000
    mean = rng.lognormal(0.5, 1.8, n)  # from ~0.01 to several hundred
    std = mean * rng.uniform(0.1, 6.0, n)  # negbin from barely to wildly over-dispersed
    for name in ("poisson", "negbin"):
        code = _codes([name] * n, mean, std)
        got = alloc.demand_quantile(probability, mean, std, code)
        var = std**2
        want = np.where(
            code == alloc.POISSON,
            stats.poisson.ppf(probability, mean),
            stats.nbinom.ppf(probability, mean**2 / np.maximum(var - mean, 1e-300), np.minimum(mean / var, 1.0)),
        )
        np.testing.assert_array_equal(got, want)


def test_requested_units_is_the_smallest_case_multiple_meeting_the_stockout_probability():
    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame(
        {
            "sku_id": [f"k{i}" for i in range(n)],
            "dc_id": "dc",
            "location_id": "s",
            "available_units": 1e6,
            "demand_mean": rng.uniform(0.5, 30.0, n),
            "demand_std": rng.uniform(0.5, 12.0, n),
            "distribution": rng.choice(DISTRIBUTIONS, n),
            "on_hand": rng.integers(0, 10, n).astype(float),
            "case_pack": rng.choice([1, 2, 6], n),
        }
    )
    probability = 0.1
    result = allocate(frame, AllocationSettings(stockout_probability=probability))
    for row in result.itertuples():
        code = _codes([row.distribution], [row.demand_mean], [row.demand_std])
        quantile = alloc.demand_quantile(1 - probability, np.array([row.demand_mean]), np.array([row.demand_std]), code)[0]
        # P(D > on_hand + q) <= probability  <=>  on_hand + q >= the (1 - probability) quantile
        assert row.on_hand + row.requested_units >= quantile - 1e-9
        if row.requested_units > 0:
            assert row.on_hand + row.requested_units - row.case_pack < quantile - 1e-9


def test_given_requested_units_are_rounded_to_cases_and_capped_by_capacity():
    frame = pd.DataFrame(
        {
            "sku_id": "a",
            "dc_id": "d",
            "location_id": ["s1", "s2", "s3"],
            "available_units": 100.0,
            "demand_mean": 10.0,
            "demand_std": 3.0,
            "on_hand": [2.0, 0.0, 5.0],
            "case_pack": 4,
            "capacity_units": [np.nan, 10.0, 20.0],
            "requested_units": [7.0, 12.0, np.nan],
        }
    )
    result = allocate(frame)
    # 7 -> 8 (two cases); 12 capped at room 10 -> 8; s3 computed: ppf(0.95) = 14.93 - 5 -> 12, room 15 -> 12
    assert result["requested_units"].tolist() == [8.0, 8.0, 12.0]
    assert result["allocated_units"].tolist() == [8.0, 8.0, 12.0]


def test_fair_share_matches_per_group_loop_reference():
    rng = np.random.default_rng(11)
    n_groups = 40
    sizes = rng.integers(1, 8, n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    requested = rng.integers(0, 9, group.size)
    available = rng.integers(0, 40, n_groups)
    got = alloc.allocate_fair_share(group, available, requested)
    want = np.concatenate(
        [fair_share_one_group(requested[group == g].tolist(), int(available[g])) for g in range(n_groups)]
    )
    np.testing.assert_array_equal(got, want)


def test_marginal_allocation_in_small_batches_equals_one_batch():
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "sku_id": np.repeat([f"k{i}" for i in range(40)], 10),
            "dc_id": "dc",
            "location_id": np.tile([f"s{i}" for i in range(10)], 40),
            "available_units": np.repeat(rng.integers(0, 80, 40), 10).astype(float),
            "demand_mean": rng.uniform(0, 15, n),
            "demand_std": rng.uniform(0.5, 6, n),
            "distribution": rng.choice(DISTRIBUTIONS, n),
            "on_hand": rng.integers(0, 5, n).astype(float),
            "unit_margin": rng.uniform(0.5, 3, n),
        }
    ).sample(frac=1.0, random_state=1)  # rows of a group need not be contiguous
    one_batch = allocate(frame)
    small_batches = allocate(frame, AllocationSettings(max_candidates_per_batch=17))
    pd.testing.assert_frame_equal(one_batch, small_batches)
    assert (one_batch["expected_units_sold"] * one_batch["unit_margin"]).sum() >= (
        one_batch["expected_units_sold_fair_share"] * one_batch["unit_margin"]
    ).sum() - 1e-9


def _base_frame():
    return pd.DataFrame(
        {
            "sku_id": "a",
            "dc_id": "d",
            "location_id": ["s1", "s2"],
            "available_units": 5.0,
            "demand_mean": 3.0,
            "demand_std": 1.0,
        }
    )


def test_errors_name_the_column_and_the_fix():
    with pytest.raises(InputDataError, match=r"missing required column\(s\) \['demand_std'\]"):
        allocate(_base_frame().drop(columns="demand_std"))
    with pytest.raises(InputDataError, match=r"'distribution' has unsupported value\(s\).*'empirical'"):
        allocate(_base_frame().assign(distribution=["normal", "empirical"]))
    with pytest.raises(InputDataError, match=r"'case_pack' differs between the rows"):
        allocate(_base_frame().assign(case_pack=[1, 2]))
    with pytest.raises(InputDataError, match=r"'available_units' differs between the rows"):
        allocate(_base_frame().assign(available_units=[5.0, 6.0]))
    with pytest.raises(InputDataError, match=r"'demand_mean' must be >= 0"):
        allocate(_base_frame().assign(demand_mean=[3.0, -1.0]))
    with pytest.raises(InputDataError, match=r"'case_pack' must hold whole"):
        allocate(_base_frame().assign(case_pack=2.5))
    with pytest.raises(InputDataError, match=r"share their \['sku_id', 'dc_id', 'location_id'\] key"):
        allocate(_base_frame().assign(location_id="s1"))
    with pytest.raises(ConfigError, match=r"stockout_probability must be between 0 and 1.*got 1.5"):
        AllocationSettings(stockout_probability=1.5)


def test_empty_frame_gets_the_output_columns():
    result = allocate(_base_frame().iloc[:0])
    assert {"requested_units", "allocated_units", "fair_share_units", "expected_units_sold"} <= set(result.columns)
    assert len(result) == 0
