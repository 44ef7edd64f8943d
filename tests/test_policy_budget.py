"""Budget allocation: kernels.budget and invspark.policy.allocate_budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference import policy_reference as ref

from invspark.errors import InputDataError
from invspark.kernels import budget
from invspark.kernels.demand_over_interval import demand_over_interval
from invspark.policy import allocate_budget, compute_policies


def items(mu, sigma, lead, distribution="normal"):
    n = len(mu)
    names = np.array([distribution] * n, dtype=object)
    return demand_over_interval(np.array(mu, float), np.array(sigma, float),
                                np.array(lead, float), np.zeros(n), np.zeros(n), names)


@pytest.mark.parametrize("budget_money", [30.0, 120.0, 400.0])
def test_lagrangian_allocation_is_optimal_against_brute_force(budget_money):
    demand = items([20.0, 5.0, 50.0], [6.0, 3.0, 10.0], [2.0, 2.0, 2.0])
    weight = np.array([0.5, 1.0, 0.2])
    cost = np.array([2.0, 5.0, 1.0])
    lower = demand.mean.copy()
    upper = demand.ppf(np.full(3, 0.999))
    level, multiplier = budget.allocate_budget(demand, weight, cost, lower, upper,
                                               np.zeros(3, dtype=int), np.array([budget_money]))
    objective = float(np.sum(weight * demand.loss(level)))
    spent = float(np.sum(cost * (level - lower)))
    assert spent <= budget_money * (1 + 1e-9)
    grids = [np.linspace(lower[i], upper[i], 61) for i in range(3)]
    losses = [weight[i] * demand.take(np.array([i] * 61)).loss(grids[i]) for i in range(3)]
    brute, _ = ref.brute_force_budget(losses, cost, grids, lower, budget_money)
    # Continuous and convex: the multiplier solution is the optimum, so no grid point beats it,
    # and the grid's best is within its resolution of it.
    assert objective <= brute + 1e-9
    assert brute - objective <= 0.03 * brute + 1e-6
    if spent < budget_money * 0.999:
        assert multiplier[0] == 0.0 and np.allclose(level, upper)


def test_locations_are_solved_independently_in_one_vectorized_call():
    demand = items([20.0, 5.0, 50.0, 8.0], [6.0, 3.0, 10.0, 4.0], [2.0, 1.0, 2.0, 3.0])
    weight = np.array([0.5, 1.0, 0.2, 0.4])
    cost = np.array([2.0, 5.0, 1.0, 3.0])
    lower, upper = demand.mean.copy(), demand.ppf(np.full(4, 0.99))
    group = np.array([0, 1, 0, 1])
    budgets = np.array([25.0, 18.0])
    level, multiplier = budget.allocate_budget(demand, weight, cost, lower, upper, group,
                                               budgets)
    for g in (0, 1):  # the reference loop: one location at a time
        idx = np.flatnonzero(group == g)
        alone, alone_multiplier = budget.allocate_budget(
            demand.take(idx), weight[idx], cost[idx], lower[idx], upper[idx],
            np.zeros(len(idx), dtype=int), budgets[[g]])
        np.testing.assert_allclose(level[idx], alone, rtol=1e-9)
        np.testing.assert_allclose(multiplier[g], alone_multiplier[0], rtol=1e-9)
        spent = np.sum(cost[idx] * (level[idx] - lower[idx]))
        assert spent == pytest.approx(budgets[g], rel=1e-6)


def test_discrete_allocation_is_feasible_and_monotone_in_budget():
    demand = items([3.0, 1.0, 6.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], "poisson")
    weight, cost = np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 1.5])
    lower, upper = demand.mean.copy(), demand.ppf(np.full(3, 0.999))
    previous = None
    for money in (0.0, 2.0, 5.0, 10.0, 40.0):
        level, _ = budget.allocate_budget(demand, weight, cost, lower, upper,
                                          np.zeros(3, dtype=int), np.array([money]))
        assert np.sum(cost * (level - lower)) <= money + 1e-9
        if previous is not None:
            assert (level >= previous - 1e-9).all()
        previous = level


def policy_frame():
    return pd.DataFrame({
        "sku_id": ["a", "b", "c", "d"], "location_id": ["L1", "L1", "L1", "L2"],
        "demand_mean": [20.0, 5.0, 50.0, 8.0], "demand_std": [6.0, 3.0, 10.0, 4.0],
        "lead_time_mean": 2.0, "review_period": 1.0, "service_level_target": 0.98,
        "unit_cost": [2.0, 5.0, 1.0, 3.0],
    })


def test_face_binding_budget_lowers_levels_and_flags_them():
    free = compute_policies(policy_frame())
    out = allocate_budget(policy_frame(), {"L1": 20.0})
    l1 = out["location_id"] == "L1"
    spent = np.sum(out["unit_cost"][l1] * out["safety_stock"][l1])
    assert spent == pytest.approx(20.0, rel=1e-6)
    assert (out["order_up_to"][l1] < free["order_up_to"][l1]).all()
    assert out["exception"][l1].tolist() == ["target_unreachable_budget"] * 3
    assert (out["budget_multiplier"][l1] > 0).all()
    # L2 has no budget: untouched
    assert out["order_up_to"][3] == free["order_up_to"][3]
    assert np.isnan(out["budget_multiplier"][3]) and out["exception"][3] is None
    assert (out["expected_csl"][l1] < 0.98).all()


def test_face_generous_budget_keeps_the_targets():
    free = compute_policies(policy_frame())
    out = allocate_budget(policy_frame(), pd.Series({"L1": 1e6, "L2": 1e6}))
    np.testing.assert_allclose(out["order_up_to"], free["order_up_to"])
    assert out["exception"].isna().all()
    assert (out["budget_multiplier"] == 0).all()


def test_face_needs_unit_cost_and_location():
    f = policy_frame()
    f.loc[1, "unit_cost"] = np.nan
    with pytest.raises(InputDataError, match="unit_cost.*positive unit_cost"):
        allocate_budget(f, {"L1": 10.0})
    with pytest.raises(InputDataError, match="needs the column 'store'"):
        allocate_budget(policy_frame(), {"L1": 10.0}, location_column="store")
